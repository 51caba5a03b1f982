/**
 * Review 209: README said a child process never inherits a PIN read from the environment. bin/credence.mjs runs the CLI
 * through tsx, whose loader thread copies process.env when register() starts it and spawns an esbuild child that lives
 * as long as the CLI: its /proc/<pid>/environ held CREDENCE_PKCS11_PIN. Now the PIN variables are out of the
 * environment while the loader starts; the service still logs in with them (read in-process, then deleted).
 * Review 324 finding 1: the launcher matched `pin-source=env:NAME` as written, the URI parser after percent-decoding,
 * so `env%3AOPERATOR_PIN` served with OPERATOR_PIN left in the esbuild child's environment. Now the launcher decodes
 * before matching, and the parser refuses an escape inside the name (`env:OPER%41TOR_PIN`), so no spelling the parser
 * takes is one the launcher misses.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { softHsm, softHsmMissing } from './support/softhsm.ts';

const CLI = join(import.meta.dirname, '..', 'bin', 'credence.mjs');

/** Every process below `pid`, whichever of its threads started it (the loader thread's are under its own task). */
const descendants = (pid: number): number[] => {
  const tasks = `/proc/${pid}/task`;
  if (!existsSync(tasks)) return [];
  const children = readdirSync(tasks).flatMap((tid) => {
    try {
      return readFileSync(`${tasks}/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return []; // a thread that ended meanwhile
    }
  });
  return children.flatMap((child) => [child, ...descendants(child)]);
};
const environOf = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return ''; // ended meanwhile
  }
};

describe.skipIf(softHsmMissing !== undefined || process.platform !== 'linux')('the CLI with a PIN in an environment variable', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('cli');
  let run = 0;

  /**
   * `credence serve` with the PIN in `variable` and `pinSource` in CREDENCE_SECURE_ENVIRONMENT: whether it came to
   * listen, what it printed, and the processes below it (while it listened) that had the PIN in their environment.
   */
  const serve = async (variable: string, pinSource: string) => {
    const env = {
      ...process.env,
      // No transform cache: the esbuild child is then sure to be started, as on a first run.
      TSX_DISABLE_CACHE: '1',
      CREDENCE_SECURE_ENVIRONMENT: `${token.uri().replace(/&pin-source=[^&]*/, '')}${pinSource}`,
      [variable]: token.pin,
    };
    const cli = spawn(process.execPath, [CLI, 'serve', '--data', join(hsm.dir, `data-${++run}`), '--host', '127.0.0.1', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const ended = new Promise<number | null>((resolve) => cli.on('exit', resolve));
    try {
      let out = '';
      cli.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      cli.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const listening = await Promise.race([
        new Promise<boolean>((resolve) => cli.stdout.on('data', () => out.includes('listening on') && resolve(true))),
        ended.then(() => false),
      ]);
      const children = listening ? descendants(cli.pid!) : [];
      const withPin = children.filter((child) => environOf(child).includes(token.pin));
      return { listening, out, children, withPin };
    } finally {
      cli.kill('SIGTERM');
      await ended;
    }
  };

  it.each([
    ['CREDENCE_PKCS11_PIN', ''],
    ['OPERATOR_PIN', '&pin-source=env:OPERATOR_PIN'],
    // The `env:` prefix percent-encoded (as encodeURIComponent('env:OPERATOR_PIN') writes it): the parser takes it.
    ['OPERATOR_PIN', '&pin-source=env%3AOPERATOR_PIN'],
  ])('in %s (%s): serves with the token, and no child process it started has the PIN in its environment', async (variable, pinSource) => {
    const { listening, out, children, withPin } = await serve(variable, pinSource);
    expect(listening, out).toBe(true);
    expect(children.length).toBeGreaterThan(0);
    expect(withPin, 'processes with the PIN in their environment').toEqual([]);
    expect(out).not.toContain(token.pin);
  }, 90_000);

  // The rule (percent_escaped_name) is checked on the parser: test/pkcs11-uri-refuses-a-percent-escape-in-a-pin-source-env-name.test.ts.
  it('a percent-escape inside the env: name (env:OPER%41TOR_PIN) is refused naming pin-source and why, instead of serving', async () => {
    const { listening, out, withPin } = await serve('OPERATOR_PIN', '&pin-source=env:OPER%41TOR_PIN');
    expect(withPin, 'processes with the PIN in their environment').toEqual([]);
    expect(listening, out).toBe(false);
    expect(out).toContain('pin-source: the env: name must be written as it is, without percent-escapes');
    expect(out).not.toContain(token.pin);
  }, 90_000);
});
