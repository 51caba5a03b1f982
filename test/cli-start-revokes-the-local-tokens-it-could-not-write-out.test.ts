import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { start } from '../bin/commands/demo.ts';
import type { DeliveringIo } from '../bin/one-time-output.ts';
import { serviceConfig } from '../adapters/http/config.ts';
import { capture } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 81's remainder: `credence start` (npm start) prints a local operator and a local auditor token, their only
 * copy; where that output failed (stdout closed, a reader gone, a full disk), both stayed live for 12 hours, printed
 * nowhere. As `token create` does (cli-token-create-revokes-a-token-it-could-not-write-out), it now revokes them at
 * once and says so; the failure itself ends the command (exit 1). In process, on a folder that already holds events
 * (no demo run), with an Io whose stdout takes the first line and refuses the rest, as a full disk does.
 */

const scratch = temporaryFolders('credence-start-undelivered-');

class FullDisk extends Error {
  readonly code = 'ENOSPC';
}

/** Takes the first `room` lines on stdout, then refuses every line, as a disk that fills does; stderr is kept. */
const fillingStdout = (room: number): { io: DeliveringIo; out: string[]; err: string[] } => {
  const c = capture();
  const out: string[] = [];
  const write = (line: string): void => {
    if (out.length >= room) throw new FullDisk('cannot write standard output (ENOSPC)');
    out.push(line);
  };
  return { io: { ...c.io, out: write, deliver: async (line) => write(line), env: {} }, out, err: c.err };
};

const tokensOf = async (data: string): Promise<{ tokenId: string; state: string; subject: string }[]> => {
  const c = capture();
  expect(await main(['token', 'list', '--all', '--json', '--data', data], { ...c.io, env: {} }), c.err.join('\n')).toBe(0);
  return JSON.parse(c.out.join('\n')).tokens;
};

describe('credence start whose stdout fails once it has the local tokens to print', () => {
  it('revokes the local operator and auditor tokens it issued, says so, and never prints them', async () => {
    const data = join(scratch(), 'data');
    const svc = await startTestService({ dir: data });
    await svc.service.context.credence.engine.execute(cmd.registerNode('meter-1'));
    await svc.close();
    const { io, out, err } = fillingStdout(1);
    const config = serviceConfig({ data, host: '127.0.0.1', port: 0, logLevel: 'silent', durability: 'normal', limits: { maxEventLoopDelayMs: 0 } });
    const logStream = new Writable({ write: (_chunk, _encoding, done) => done() });
    await expect(start({ config, keepServing: true, logStream }, io)).rejects.toBeInstanceOf(FullDisk);
    expect(out).toEqual([expect.stringContaining('already holds events: resuming')]);
    const local = (await tokensOf(data)).filter((t) => t.subject === 'local-operator' || t.subject === 'local-auditor');
    expect(local.map((t) => t.subject).sort()).toEqual(['local-auditor', 'local-operator']);
    expect(local.map((t) => t.state)).toEqual(['revoked', 'revoked']);
    const said = err.join('\n');
    expect(said).toContain(`revoked the local tokens of this start (${local.map((t) => t.tokenId).join(', ')})`);
    expect(said).not.toMatch(/[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}\./);
  }, 120_000);
});
