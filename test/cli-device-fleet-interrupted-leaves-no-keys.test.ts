import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

// `credence device fleet` without --dir keeps its devices (private keys, KEKs) in a temporary folder: a run cut short
// by Ctrl-C or a kill must remove it, as a run that ends does.

const CLI = fileURLToPath(new URL('../bin/credence.mjs', import.meta.url));
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

/** A server that takes requests and never answers them: the fleet stays mid-run until it is interrupted. */
const silentServer = async (): Promise<{ url: string; firstRequest: Promise<IncomingMessage> }> => {
  let heard: (request: IncomingMessage) => void = () => {};
  const firstRequest = new Promise<IncomingMessage>((resolve) => (heard = resolve));
  const server: Server = createServer((request) => heard(request));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, firstRequest };
};

describe('credence device fleet, interrupted', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`removes its temporary devices on ${signal}, and ends by that signal`, async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'credence-fleet-signal-'));
      cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
      const { url, firstRequest } = await silentServer();
      const child = spawn(process.execPath, [CLI, 'device', 'fleet', '--count', '2', '--server', url], {
        env: { ...process.env, TMPDIR: tmp, CREDENCE_TOKEN: 'not-checked-by-this-server' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      cleanups.push(() => child.kill('SIGKILL'));
      let err = '';
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, s) => resolve({ code, signal: s })));
      await firstRequest;
      const folders = readdirSync(tmp).filter((name) => name.startsWith('credence-fleet-'));
      expect(folders, err).toHaveLength(1);

      child.kill(signal);
      expect(await exited).toEqual({ code: null, signal });
      expect(readdirSync(tmp).filter((name) => name.startsWith('credence-fleet-'))).toEqual([]);
    });
  }
});
