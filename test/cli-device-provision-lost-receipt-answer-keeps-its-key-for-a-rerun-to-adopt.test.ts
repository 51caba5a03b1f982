import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProblemResponse } from '../adapters/client/http.ts';
import { clientOf } from '../bin/commands/options.ts';
import { register } from '../bin/commands/device.ts';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { readState, stateFile, type DeviceState } from '../bin/commands/device/state.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import type { Io } from '../bin/io.ts';
import { runCommands } from '../bin/program.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import { toBase64url } from '../domain/crypto/base64url.ts';
import { startTestService, type TestService } from './support/service.ts';

// Found in review: when the receipt reached the server and the server recorded the credential but its answer was lost
// (a proxy's 502, a connection reset, an answer that fails a local check), `device provision` destroyed the new key and
// cleared its pending record, so the server held an enrolled credential whose key was gone and a rerun was refused
// ("credentialId not available"). Only the server's refusal of the receipt (4xx) may destroy the key now; otherwise
// the key and its record are kept, and a rerun with an operator token settles it by the fingerprint.

let service: TestService;
let root: string;
const operator = () => ({ url: service.url, token: service.tokens.operator });
beforeAll(async () => {
  service = await startTestService();
  root = mkdtempSync(join(tmpdir(), 'credence-device-provision-lost-'));
  const now = new Date();
  await operatorCommand(operator(), 'createSubscription', {
    subscriptionId: 'sub-pl', subscriber: 'City Utilities', notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
  });
}, 60_000);
afterAll(async () => {
  await service?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

/** What the stand-in does with the receipt: forwards it, then spoils the answer; or spoils the receipt itself. */
type Receipt = 'answer-502' | 'answer-reset' | 'answer-another-fingerprint' | 'receipt-tampered';

const RECEIPT = '/v1/enrolment/receipt';

/** A stand-in in front of the service: forwards everything, but does `receipt` to the receipt's request or answer. */
const standIn = async (receipt: Receipt) => {
  const forward = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    if (req.url === RECEIPT && receipt === 'receipt-tampered') {
      const message = JSON.parse(body.toString('utf8')) as { credentialProof: string };
      // One character of the credential's proof flipped: the server refuses the receipt and records nothing.
      const proof = message.credentialProof;
      message.credentialProof = `${proof.slice(0, 10)}${proof[10] === 'A' ? 'B' : 'A'}${proof.slice(11)}`;
      body = Buffer.from(JSON.stringify(message));
    }
    const answer = await fetch(`${service.url}${req.url}`, {
      method: req.method!,
      headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)) as [string, string][]),
      ...(body.length > 0 ? { body } : {}),
    });
    let text = await answer.text();
    if (req.url === RECEIPT && answer.ok) {
      if (receipt === 'answer-502') return res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>');
      if (receipt === 'answer-reset') return req.socket.destroy();
      if (receipt === 'answer-another-fingerprint') {
        const recorded = JSON.parse(text) as { fingerprint: string };
        text = JSON.stringify({ ...recorded, fingerprint: `sha256:${'0'.repeat(64)}` });
      }
    }
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(text);
  };
  const proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void forward(req, res, Buffer.concat(chunks)).catch(() => req.socket.destroy()));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => { proxy.closeAllConnections(); proxy.close(() => resolve()); }),
  };
};

const device = async (argv: string[]) => {
  const lines: string[] = [];
  const io: Io = { out: (line) => void lines.push(line), err: (line) => void lines.push(line), env: {} };
  const code = await runCommands([register], ['device', ...argv], io);
  return { code, output: lines.join('\n') };
};

/** An initialised device of node `nodeId`, enrolled under sub-pl; its folder. */
const enrolledDevice = async (nodeId: string): Promise<string> => {
  const dir = join(root, nodeId);
  expect((await device(['init', '--node-id', nodeId, '--kind', 'ed25519', '--dir', dir, '--server', service.url, '--token', operator().token])).code).toBe(0);
  await operatorCommand(operator(), 'enrolNode', { nodeId, subscriptionId: 'sub-pl', cseId: `/${nodeId}-cse` });
  return dir;
};

/** Every key handle the state names, the pending run's among them. */
const named = (state: DeviceState): string[] =>
  [state.bootstrap.handle, ...state.credentials.map((c) => c.handle), ...(state.provisioning !== undefined ? [state.provisioning.handle] : [])].sort();

/** Every key the folder's Secure Environment holds, and its sealed material, read from its key database. */
const held = (dir: string): { handle: string; sealed: Buffer | null }[] => {
  const db = new Database(join(dir, 'secure-environment.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT handle, sealed FROM se_keys ORDER BY handle').all() as { handle: string; sealed: Buffer | null }[];
  } finally {
    db.close();
  }
};

/** The fingerprint the server holds for `credentialId`, or undefined when it holds no such credential. */
const fingerprintOnServer = async (credentialId: string): Promise<unknown> => {
  try {
    return ((await clientOf(operator()).entity('credential', credentialId)).context as { fingerprint?: unknown }).fingerprint;
  } catch (error) {
    if (error instanceof ProblemResponse && error.status === 404) return undefined;
    throw error;
  }
};

/** Nothing secret in what the CLI said: neither the operator token nor any sealed key material. */
const expectNoSecret = (output: string, dir: string): void => {
  expect(output).not.toContain(operator().token);
  for (const { sealed } of held(dir)) {
    if (sealed === null || sealed.length === 0) continue;
    expect(output).not.toContain(toBase64url(sealed));
    expect(output).not.toContain(sealed.toString('hex'));
  }
};

describe('credence device provision, when the receipt reached the server but its answer did not come back', () => {
  it.each([
    ['a gateway answers 502 in its place', 'answer-502', 'pl-502'],
    ['the connection is dropped', 'answer-reset', 'pl-reset'],
    ['the 2xx answer names another fingerprint (credential_mismatch)', 'answer-another-fingerprint', 'pl-mismatch'],
  ] as const)('%s: the key and its pending record are kept, and a rerun with a token adopts it: one usable key, no orphan', async (_case, receipt, nodeId) => {
    const dir = await enrolledDevice(nodeId);
    const credentialId = `${nodeId}-svc`;
    const proxy = await standIn(receipt);
    let lost: { code: number; output: string };
    try {
      lost = await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', proxy.url]);
    } finally {
      await proxy.close();
    }
    expect(lost.code).not.toBe(0);
    expect(lost.output).toContain('is not known');
    expect(lost.output).toContain(stateFile(dir));
    expect(lost.output).toMatch(/run device provision again with an operator token/);
    // The server recorded the credential under the key the device still holds, named as pending.
    const pending = readState(dir).provisioning;
    expect(pending?.credentialId).toBe(credentialId);
    const recorded = await fingerprintOnServer(credentialId);
    expect(recorded).toBe(pending?.descriptor.fingerprint);
    expect(held(dir).map((k) => k.handle)).toEqual(named(readState(dir)));

    const rerun = await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', service.url, '--token', operator().token]);
    expect(rerun.output).toContain(`credential ${credentialId} adopted`);
    expect(rerun.code).toBe(0);
    const state = readState(dir);
    expect(state.provisioning).toBeUndefined();
    expect(state.credentials.map((c) => [c.credentialId, c.descriptor.fingerprint])).toEqual([[credentialId, recorded]]);
    expect(held(dir).map((k) => k.handle)).toEqual(named(state));
    const adopted = openDevice(dir);
    try {
      const key = await adopted.device.se.describe(state.credentials[0]!.handle);
      expect(publicKeyFingerprint('ed25519', key.publicKey!)).toBe(recorded);
    } finally {
      adopted.close();
    }
    expectNoSecret([lost.output, rerun.output].join('\n'), dir);
  }, 60_000);

  it('a receipt the server refuses (4xx) still destroys the key and clears the pending record: nothing recorded, no orphan', async () => {
    const dir = await enrolledDevice('pl-refused');
    const proxy = await standIn('receipt-tampered');
    let refused: { code: number; output: string };
    try {
      refused = await device(['provision', '--dir', dir, '--credential-id', 'pl-refused-svc', '--kind', 'ed25519', '--server', proxy.url]);
    } finally {
      await proxy.close();
    }
    expect(refused.code).not.toBe(0);
    expect(refused.output).not.toContain('is not known');
    expect(await fingerprintOnServer('pl-refused-svc')).toBeUndefined();
    const state = readState(dir);
    expect(state.provisioning).toBeUndefined();
    expect(state.credentials).toEqual([]);
    expect(held(dir).map((k) => k.handle)).toEqual(named(state));
    expect(held(dir)).toHaveLength(1);
    expectNoSecret(refused.output, dir);
  }, 60_000);
});
