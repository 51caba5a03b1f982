import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedSecureEnvironment, secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { fakeClock, seededRandom } from './crypto-fixtures.ts';

/*
 * Found in review: two processes opening a new data folder at once could both take the wrapping-key file for their
 * own. One then refused the folder the other had just set up (`wrapping_keys_present`) and deleted that process's
 * wrapping-key file (the other failing with "attempt to write a readonly database"), and every later open refused
 * the folder: about 1 round in 8. Here the race is run for real, two processes at a time on fresh folders.
 */
const ROUNDS = 40;
/** The rounds stop early past this, so a slow machine runs fewer of them rather than time out. */
const BUDGET_MS = 15_000;
const CHILD = fileURLToPath(new URL('./support/secure-environment-first-open-child.ts', import.meta.url));

interface Opener {
  readonly child: ChildProcessWithoutNullStreams;
  /** The next line the process prints. */
  next(): Promise<string>;
}

const opener = (): Opener => {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD]);
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const resolve = waiting.shift();
    if (resolve) resolve(line);
    else lines.push(line);
  });
  const ended = new Promise<string>((_, reject) => child.on('exit', (code) => reject(new Error(`opener ended (${code}): ${err}`))));
  ended.catch(() => undefined);
  return {
    child,
    next: () => Promise.race([lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise<string>((resolve) => waiting.push(resolve)), ended]),
  };
};

const dirs: string[] = [];
let openers: Opener[] = [];
beforeAll(async () => {
  openers = [opener(), opener()];
  for (const o of openers) expect(await o.next()).toBe('READY');
});
afterAll(() => {
  for (const o of openers) o.child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const clock = fakeClock();

describe('two processes opening a new data folder at the same moment', () => {
  it('both open it and sign, and the folder opens afterwards with its three files', async () => {
    const deadline = Date.now() + BUDGET_MS;
    let rounds = 0;
    for (; rounds < ROUNDS && Date.now() < deadline; rounds += 1) {
      const dir = mkdtempSync(join(tmpdir(), 'credence-se-race-'));
      dirs.push(dir);
      // Far enough ahead for both processes to be spinning on it when it comes.
      const at = Date.now() + 50;
      for (const o of openers) o.child.stdin.write(`${JSON.stringify({ dir, at })}\n`);
      const said = await Promise.all(openers.map((o) => o.next()));
      expect({ round: rounds, said }).toEqual({ round: rounds, said: ['OK', 'OK'] });
      expect(readdirSync(dir).sort()).toEqual(['secure-environment.kek', 'secure-environment.sqlite', 'secure-environment.wrapping-keys']);
      const se = EmbeddedSecureEnvironment.open(secureEnvironmentConfigForDataDir(dir), { now: clock.now, random: seededRandom(`after-${rounds}`) });
      try {
        const handle = await se.generate('node:after', 'ed25519');
        expect((await se.sign('node:after', handle, new TextEncoder().encode('after'))).length).toBe(64);
      } finally {
        se.close();
      }
    }
    expect(rounds).toBeGreaterThanOrEqual(5);
  });
});
