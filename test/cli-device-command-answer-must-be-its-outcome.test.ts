import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnexpectedResponse } from '../adapters/client/http.ts';
import { register } from '../bin/commands/device.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import type { Io } from '../bin/io.ts';
import { runCommands } from '../bin/program.ts';
import { startTestService, type TestService } from './support/service.ts';

// Found in review: `device init` (and the fleet's enrol and configure steps, and associate) took any 2xx answer to a
// command as its success: a proxy's 200 maintenance page made init report the device initialised, write device.json
// and forget its pending init, while the server had recorded nothing.

let service: TestService;
let root: string;
beforeAll(async () => {
  service = await startTestService();
  root = mkdtempSync(join(tmpdir(), 'credence-device-outcome-'));
}, 60_000);
afterAll(async () => {
  await service?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

/** A server on 127.0.0.1 answering every request with 200, `type` and `body`. */
const answering = async (type: string, body: string): Promise<{ url: string; close: () => Promise<void> }> => {
  const server: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': type }).end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
};

const outcome = (fields: Record<string, unknown> = {}) =>
  JSON.stringify({ commandId: 'c-1', streamId: 'node-meter-o', state: 'initialized', deduplicated: false, events: [{ type: 'NodeRegistered', streamId: 'node-meter-o', position: '7' }], ...fields });

describe('an operator command of the device simulator', () => {
  it.each([
    ['a maintenance page', 'text/html', '<html><body>Back soon</body></html>', /body/],
    ['JSON of another shape', 'application/json', '{"ok":true}', /commandId|streamId|events/],
    ["another command's id", 'application/json', outcome({ commandId: 'c-2' }), /commandId: c-2, not the c-1 sent/],
    ["another entity's outcome", 'application/json', outcome({ streamId: 'node-other' }), /streamId: node-other, not node-meter-o/],
    ['another fact', 'application/json', outcome({ events: [{ type: 'NodeRevoked', position: '7' }] }), /events\.0: NodeRevoked .* records NodeRegistered/],
    ['no fact at all', 'application/json', outcome({ events: [] }), /events: none/],
  ])('is not done when the 2xx answer is %s: an UnexpectedResponse naming the field', async (_what, type, body, message) => {
    const server = await answering(type, body);
    try {
      const sent = operatorCommand({ url: server.url, token: 't' }, 'registerNode', { nodeId: 'meter-o', profile: {}, bootstrapCredentialId: 'b' }, 'c-1');
      await expect(sent).rejects.toBeInstanceOf(UnexpectedResponse);
      await expect(sent).rejects.toThrow(message);
    } finally {
      await server.close();
    }
  });
});

/** A proxy in front of the service that answers the provisionCredential command itself with a 200 HTML page. */
const maintenanceProxy = async () => {
  const proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      if (body.includes('provisionCredential')) return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
      const answer = await fetch(`${service.url}${req.url}`, {
        method: req.method!,
        headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)) as [string, string][]),
        ...(body.length > 0 ? { body } : {}),
      });
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(await answer.text());
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, close: () => new Promise<void>((resolve) => proxy.close(() => resolve())) };
};

const device = async (argv: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), env: {} };
  const code = await runCommands([register], ['device', ...argv], io);
  return { code, out, err };
};

describe('credence device init, when the last command is answered by a maintenance page', () => {
  it('does not report the device initialised: the pending init is kept, and running it again finishes it', async () => {
    const dir = join(root, 'meter-maint');
    const proxy = await maintenanceProxy();
    try {
      const init = await device(['init', '--node-id', 'meter-maint', '--kind', 'ed25519', '--dir', dir, '--server', proxy.url, '--token', service.tokens.operator]);
      expect(init.code).toBe(1);
      expect(init.err.join('\n')).toMatch(/unexpected answer from server to POST \/v1\/commands/);
      expect(init.err.join('\n')).toMatch(/did not finish and its outcome is not known/);
      expect(readdirSync(dir)).toContain('device-init.pending.json');
      expect(readdirSync(dir)).not.toContain('device.json');
    } finally {
      await proxy.close();
    }
    // The server never saw the provisioning: the credential is issued, not provisioned.
    const credential = await service.service.context.credence.engine.entity('credential', 'meter-maint-bootstrap');
    expect(credential.events.map((e) => e.event.type)).toEqual(['CredentialIssued']);
    const again = await device(['init', '--node-id', 'meter-maint', '--kind', 'ed25519', '--dir', dir, '--server', service.url, '--token', service.tokens.operator]);
    expect(again.code, again.err.join('\n')).toBe(0);
    expect(readdirSync(dir)).toContain('device.json');
    expect(readdirSync(dir)).not.toContain('device-init.pending.json');
  });
});
