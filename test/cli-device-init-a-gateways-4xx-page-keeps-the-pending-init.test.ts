import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPendingInit } from '../bin/commands/device/pending-init.ts';
import { deviceCli } from './support/device-cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Found in review (64 F3): the device took any 4xx for the server's refusal. `device init` shares the predicate of
// the receipt's refusal (adapters/client/refused-for-good.ts): only Credence's own 4xx problem (but 401, 403, 408,
// 429) lets it give up its key; a gateway's 4xx page, given after the command may have reached the server, keeps the
// key and the pending init for a rerun.

let service: TestService;
let root: string;
beforeAll(async () => {
  service = await startTestService();
  root = mkdtempSync(join(tmpdir(), 'credence-device-gw-init-'));
}, 60_000);
afterAll(async () => {
  await service?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

const device = deviceCli;

describe('credence device init, when a gateway answers a command the server recorded with its own 4xx page', () => {
  it('keeps the key and the pending init, and running it again finishes it with the same key', async () => {
    const dir = join(root, 'meter-gw');
    const proxy = await standInProxy(async (req, res, body) => {
      const answer = await forwarded(service.url, req, body);
      if (body.includes('registerNode')) return res.writeHead(404, { 'content-type': 'text/html' }).end('<html>404 Not Found</html>');
      return answerWith(res, answer);
    });
    try {
      const init = await device(['init', '--node-id', 'meter-gw', '--kind', 'ed25519', '--dir', dir, '--server', proxy.url, '--token', service.tokens.operator]);
      expect(init.code).not.toBe(0);
      expect(init.output).toMatch(/did not finish and its outcome is not known/);
    } finally {
      await proxy.close();
    }
    const pending = readPendingInit(dir);
    expect(pending).toBeDefined();
    expect((await service.service.context.credence.engine.entity('node', 'meter-gw')).events.map((e) => e.event.type)).toEqual(['NodeRegistered']);
    const again = await device(['init', '--node-id', 'meter-gw', '--kind', 'ed25519', '--dir', dir, '--server', service.url, '--token', service.tokens.operator]);
    expect(again.code, again.output).toBe(0);
    expect(readdirSync(dir)).toContain('device.json');
    const credential = await service.service.context.credence.engine.entity('credential', 'meter-gw-bootstrap');
    expect((credential.snapshot.context as { fingerprint?: string }).fingerprint).toBe(pending!.descriptor.fingerprint);
  }, 60_000);
});
