import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import type { Io } from '../bin/io.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { capture } from './support/cli.ts';
import { cmd, fixture } from './support/fleet.ts';

/** A terminal as far as the CLI can tell: what is drawn on it is kept. */
const terminal = () => {
  const drawn: string[] = [];
  const stream = { isTTY: true, write: (text: string) => drawn.push(text) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, drawn };
};

describe('progress of long work', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'credence-cli-progress-'));
    const store = openSqliteStoreInDir(dir);
    const { engine } = fixture(store);
    await engine.execute(cmd.createSubscription());
    for (let i = 0; i < 5; i += 1) {
      await engine.execute(cmd.registerNode(`meter-${i}`));
      await engine.execute(cmd.enrolNode(`meter-${i}`));
    }
    await store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = async (argv: string[], progress?: NodeJS.WriteStream) => {
    const c = capture();
    const io: Io = { ...c.io, ...(progress !== undefined ? { progress } : {}) };
    return { code: await main(argv, io), out: c.out };
  };

  it('draws a bar on a terminal while replaying and rebuilding, on stderr and never in the output', async () => {
    const tty = terminal();
    const replayed = await run(['replay', '--data', dir], tty.stream);
    expect(replayed.code).toBe(0);
    expect(tty.drawn.join('')).toMatch(/\r\[#+-*\] +100% {2}11\/11 events replayed/);
    expect(replayed.out.join('\n')).not.toContain('events replayed');

    const rebuilt = terminal();
    expect((await run(['projections', 'rebuild', 'audit', '--data', dir], rebuilt.stream)).code).toBe(0);
    expect(rebuilt.drawn.join('')).toMatch(/events into audit/);
  });

  it('stays quiet with --json, and when stderr is not a terminal (no progress stream)', async () => {
    const tty = terminal();
    const asJson = await run(['replay', '--json', '--data', dir], tty.stream);
    expect(asJson.code).toBe(0);
    expect(tty.drawn).toEqual([]);
    expect(JSON.parse(asJson.out.join('\n'))).toMatchObject({ ok: true, events: 11 });
    expect((await run(['replay', '--data', dir])).code).toBe(0);
  });
});
