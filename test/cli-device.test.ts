/**
 * Issue 12, `credence device`: a device simulator with its own Secure Environment folder, against a live server:
 * init at the factory (operator API), provision and associate over the device routes, status, and a fleet; with
 * the exit codes every command keeps (0 done, 1 refused, 2 bad usage, 3 unreachable).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { register } from '../bin/commands/device.ts';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { readState } from '../bin/commands/device/state.ts';
import { associate, operatorCommand } from '../bin/commands/device/steps.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { Io } from '../bin/io.ts';
import { runCommands } from '../bin/program.ts';
import { startTestService, type TestService } from './support/service.ts';

let service: TestService;
let root: string;
beforeAll(async () => {
  service = await startTestService();
  root = mkdtempSync(join(tmpdir(), 'credence-cli-device-'));
  const now = new Date();
  await operatorCommand({ url: service.url, token: service.tokens.operator }, 'createSubscription', {
    subscriptionId: 'sub-cli', subscriber: 'City Utilities', notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
  });
}, 60_000);
afterAll(async () => {
  await service?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

/** Runs `credence device …`; what it printed and its exit code. The environment is the one given, never the process's. */
const device = async (argv: string[], env: Record<string, string> = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), env };
  const code = await runCommands([register], ['device', ...argv], io);
  return { code, out, err, json: () => JSON.parse(out.join('\n')) as Record<string, unknown> };
};

describe('credence device and the operator token', () => {
  it('takes it from a file, as every command that talks to a server does, for init and associate', async () => {
    const tokenFile = join(root, 'operator.token');
    writeFileSync(tokenFile, `${service.tokens.operator}\n`, { mode: 0o600 });
    const dir = join(root, 'meter-token-file');
    const init = await device(['init', '--node-id', 'meter-token-file', '--kind', 'ed25519', '--dir', dir, '--server', service.url, '--token-file', tokenFile]);
    expect(init.code, init.err.join('\n')).toBe(0);
    expect(String((await service.service.context.credence.engine.entity('node', 'meter-token-file')).snapshot.value)).toBe('initialized');
    const help = await device(['init', '--help']);
    expect(help.out.join(' ').replace(/\s+/g, ' ')).toMatch(/shows in ps and shell history, prefer --token-file/);
  });
});

describe('credence device against a live server', () => {
  it('init, provision, associate, status: the device holds its credential and association, and the server recorded them', async () => {
    const dir = join(root, 'meter-cli');
    const server = ['--server', service.url];
    const init = await device(['init', '--node-id', 'meter-cli', '--kind', 'p256', '--dir', dir, ...server, '--token', service.tokens.operator, '--json']);
    expect(init.code, init.err.join('\n')).toBe(0);
    expect(init.json()).toMatchObject({ nodeId: 'meter-cli', bootstrap: { credentialId: 'meter-cli-bootstrap', kind: 'p256' }, pinned: { enrolmentFunction: { id: 'MEF-1' } } });
    // A folder holds one device for its whole life: init on it again is bad usage (2), said before anything is asked of the server.
    const again = await device(['init', '--node-id', 'meter-cli-2', '--kind', 'ed25519', '--dir', dir, ...server, '--token', service.tokens.operator]);
    expect(again.code).toBe(2);
    expect(again.err.join('\n')).toMatch(/already holds a device/);
    expect((await service.service.context.credence.engine.entity('node', 'meter-cli-2')).events).toEqual([]);

    // The operator enrols the node (the device cannot: it has no token).
    await operatorCommand({ url: service.url, token: service.tokens.operator }, 'enrolNode', { nodeId: 'meter-cli', subscriptionId: 'sub-cli', cseId: '/meter-cli-cse' });

    // No token for the device routes: CREDENCE_URL alone names the server.
    const provisioned = await device(['provision', '--dir', dir, '--credential-id', 'meter-cli-svc', '--kind', 'psk256', '--json'], { CREDENCE_URL: service.url });
    expect(provisioned.code, provisioned.err.join('\n')).toBe(0);
    expect(provisioned.json()).toMatchObject({ credentialId: 'meter-cli-svc', kind: 'psk256', nodeId: 'meter-cli' });

    const associated = await device(['associate', '--dir', dir, '--association-id', 'meter-cli-sa', '--credential-id', 'meter-cli-svc', '--lifetime', '30d', ...server, '--token', service.tokens.operator]);
    expect(associated.code, associated.err.join('\n')).toBe(0);
    expect(associated.out.join('\n')).toMatch(/association meter-cli-sa established with \/in-cse until/);

    const status = await device(['status', '--dir', dir, '--json']);
    expect(status.code).toBe(0);
    expect(status.json()).toMatchObject({
      nodeId: 'meter-cli',
      cseId: '/meter-cli-cse',
      credentials: [{ credentialId: 'meter-cli-svc', kind: 'psk256' }],
      associations: [{ associationId: 'meter-cli-sa', credentialId: 'meter-cli-svc', registrarId: '/in-cse' }],
    });
    const human = await device(['status', '--dir', dir]);
    expect(human.out.join('\n')).toMatch(/association meter-cli-sa \(meter-cli-svc\) with \/in-cse: until /);

    const { engine } = service.service.context.credence;
    // CredentialAssociated is the cascade's reaction to AssociationEstablished: the live runtime records it after the
    // device's answer, so it is awaited, not assumed (it lands within milliseconds; a batch may hold it briefly).
    await vi.waitFor(async () => expect((await engine.entity('credential', 'meter-cli-svc')).events).toHaveLength(3), { timeout: 20_000, interval: 20 });
    const credential = await engine.entity('credential', 'meter-cli-svc');
    expect(credential.events.map((e) => e.event.type)).toEqual(['CredentialIssued', 'CredentialProvisioned', 'CredentialAssociated']);
    expect(String((await engine.entity('association', 'meter-cli-sa')).snapshot.value)).toBe('associated');

    // The state file beside the Secure Environment holds handles and public data, and is the owner's alone.
    const stateFile = join(dir, 'device.json');
    expect(statSync(stateFile).mode & 0o077).toBe(0);
    const state = readFileSync(stateFile, 'utf8');
    expect(state).not.toMatch(/private|secret|"psk"|"d"\s*:/i);
    expect(readdirSync(dir)).toEqual(expect.arrayContaining(['device.json', 'secure-environment.sqlite']));
  }, 60_000);

  it('a new handshake for an association the device already holds keys for destroys the old keys: none left behind in its Secure Environment', async () => {
    const dir = join(root, 'meter-re');
    const operator = { url: service.url, token: service.tokens.operator };
    expect((await device(['init', '--node-id', 'meter-re', '--kind', 'ed25519', '--dir', dir, '--server', service.url, '--token', operator.token])).code).toBe(0);
    await operatorCommand(operator, 'enrolNode', { nodeId: 'meter-re', subscriptionId: 'sub-cli', cseId: '/meter-re-cse' });
    expect((await device(['provision', '--dir', dir, '--credential-id', 'meter-re-svc', '--kind', 'ed25519', '--server', service.url])).code).toBe(0);

    const sim = openDevice(dir);
    try {
      // Session keys of an earlier handshake for meter-re-sa (one the server has since forgotten, say).
      const old = { send: await sim.device.se.generate('psk256'), receive: await sim.device.se.generate('psk256') };
      sim.state = {
        ...sim.state,
        associations: [{
          associationId: 'meter-re-sa', credentialId: 'meter-re-svc', registrarId: '/in-cse', registreeId: '/meter-re-cse', sessionKeys: old,
          transcriptHash: 'a'.repeat(64), establishedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        }],
      };
      const outcome = await associate(service.url, sim, { associationId: 'meter-re-sa', credentialId: 'meter-re-svc', lifetimeSeconds: 3600, configureWith: operator });
      for (const handle of [old.send, old.receive]) {
        const gone = await sim.device.se.describe(handle).catch((e: unknown) => e);
        expect(isCredenceError(gone, 'not_found'), `old session key ${handle} destroyed`).toBe(true);
      }
      expect(sim.state.associations).toEqual([expect.objectContaining({ associationId: 'meter-re-sa', sessionKeys: outcome.sessionKeys })]);
      expect(readState(dir).associations.map((a) => a.sessionKeys)).toEqual([outcome.sessionKeys]);
    } finally {
      sim.close();
    }
  }, 60_000);

  it('exit codes: 2 for bad usage (and a PSK bootstrap over HTTP), 1 for a refusal, 3 for an unreachable server', async () => {
    const psk = await device(['init', '--node-id', 'meter-psk', '--kind', 'psk256', '--dir', join(root, 'meter-psk'), '--server', service.url, '--token', service.tokens.operator]);
    expect(psk.code).toBe(2);
    expect(psk.err.join('\n')).toMatch(/factory PSK bootstrap .* shared? /);
    expect((await device(['provision', '--dir', join(root, 'x'), '--credential-id', 'c', '--kind', 'rsa', '--server', service.url])).code).toBe(2);
    expect((await device(['associate', '--dir', join(root, 'x'), '--association-id', 'a', '--credential-id', 'c', '--lifetime', 'soon', '--server', service.url])).code).toBe(2);
    expect((await device(['provision', '--credential-id', 'c', '--kind', 'ed25519', '--server', service.url])).code).toBe(2); // no --dir nor --node-id
    expect((await device(['provision', '--dir', join(root, 'x'), '--credential-id', 'c', '--kind', 'ed25519'])).code).toBe(2); // no server

    // A folder with no device, and a node id already registered, are refusals.
    expect((await device(['provision', '--dir', join(root, 'nothing'), '--credential-id', 'c', '--kind', 'ed25519', '--server', service.url])).code).toBe(1);
    const twice = await device(['init', '--node-id', 'meter-cli', '--kind', 'ed25519', '--dir', join(root, 'meter-cli-2'), '--server', service.url, '--token', service.tokens.operator]);
    expect(twice.code).toBe(1);
    // A token of the wrong role is refused by the server.
    expect((await device(['init', '--node-id', 'meter-aud', '--kind', 'ed25519', '--dir', join(root, 'meter-aud'), '--server', service.url, '--token', service.tokens.auditor])).code).toBe(1);
    // The token was refused, not the command: the same init with an operator's token finishes it, with the key kept.
    const finished = await device(['init', '--node-id', 'meter-aud', '--kind', 'ed25519', '--dir', join(root, 'meter-aud'), '--server', service.url, '--token', service.tokens.operator]);
    expect(finished.code, finished.err.join('\n')).toBe(0);

    const unreachable = await device(['init', '--node-id', 'meter-x', '--kind', 'ed25519', '--dir', join(root, 'meter-x'), '--server', 'http://127.0.0.1:10', '--token', 't']);
    expect(unreachable.code).toBe(3);
    expect(unreachable.err.join('\n')).toMatch(/cannot reach/);
  }, 60_000);

  it('init refused writes nothing: a bootstrap id in use leaves no node on the server and no folder; a data folder is no device folder', async () => {
    const first = await device(['init', '--node-id', 'meter-owner', '--kind', 'ed25519', '--bootstrap-id', 'shared-boot', '--dir', join(root, 'meter-owner'), '--server', service.url, '--token', service.tokens.operator]);
    expect(first.code, first.err.join('\n')).toBe(0);
    // Found in review: the node was registered (naming the other node's credential) before the issue was refused,
    // and no later init of it could succeed.
    const dir = join(root, 'meter-taker');
    const taken = await device(['init', '--node-id', 'meter-taker', '--kind', 'ed25519', '--bootstrap-id', 'shared-boot', '--dir', dir, '--server', service.url, '--token', service.tokens.operator]);
    expect(taken.code).toBe(1);
    expect(taken.err.join('\n')).toMatch(/bootstrapId: the server already holds credential shared-boot/);
    expect((await service.service.context.credence.store.readStream('node-meter-taker')).length).toBe(0);
    expect(() => statSync(dir)).toThrow();
    const again = await device(['init', '--node-id', 'meter-taker', '--kind', 'ed25519', '--dir', dir, '--server', service.url, '--token', service.tokens.operator]);
    expect(again.code, again.err.join('\n')).toBe(0);

    // The service's own data folder (its Secure Environment holds the infrastructure's keys) is refused as it stands.
    const into = await device(['init', '--node-id', 'meter-into-data', '--kind', 'ed25519', '--dir', service.dir, '--server', service.url, '--token', service.tokens.operator]);
    expect(into.code).toBe(1);
    expect(into.err.join('\n')).toMatch(/is a Credence data folder/);
    expect(readdirSync(service.dir)).not.toContain('device.json');
    expect((await service.service.context.credence.store.readStream('node-meter-into-data')).length).toBe(0);
  }, 60_000);

  /** A proxy in front of the server that sends the provisioning on, then cuts the connection (or answers `status`). */
  const lossyProxy = async (status?: number) => {
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const body = Buffer.concat(chunks);
        const answer = await fetch(`${service.url}${req.url}`, {
          method: req.method!,
          headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length' && k !== 'connection') as [string, string][]),
          ...(body.length > 0 ? { body } : {}),
        });
        const text = await answer.text();
        if (body.includes('provisionCredential')) {
          if (status === undefined) return res.socket!.destroy();
          return res.writeHead(status, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'about:blank', title: 'Gateway Timeout', status }));
        }
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(text);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`, close: () => new Promise((resolve) => proxy.close(resolve)) };
  };

  it.each([
    ['cut in transit', undefined, 3],
    ["answered by a proxy's 504", 504, 1],
  ] as const)('init whose provisioning answer is %s is finished by running it again, with the same key (found in review)', async (_how, status, code) => {
    const nodeId = `meter-lost-${status ?? 'cut'}`;
    const dir = join(root, nodeId);
    const proxy = await lossyProxy(status);
    try {
      const lost = await device(['init', '--node-id', nodeId, '--kind', 'ed25519', '--dir', dir, '--server', proxy.url, '--token', service.tokens.operator]);
      expect(lost.code).toBe(code);
      expect(lost.err.join('\n')).toMatch(/did not finish and its outcome is not known .* run the same command again/);
    } finally {
      await proxy.close();
    }
    // The server recorded every step; the device kept its key and what it sent.
    const credential = await service.service.context.credence.engine.entity('credential', `${nodeId}-bootstrap`);
    expect(String(credential.snapshot.value)).not.toBe('absent');
    const init = (args: string[]) => device(['init', ...args, '--dir', dir, '--server', service.url, '--token', service.tokens.operator]);
    // Another init in that folder is refused while this one is unfinished, naming the one to run again; so is this
    // one with another key kind.
    const other = await init(['--node-id', 'meter-other', '--kind', 'ed25519']);
    expect(other.code).toBe(1);
    expect(other.err.join('\n')).toMatch(new RegExp(`holds an unfinished init of node ${nodeId}`));
    expect(other.err.join('\n')).not.toMatch(/note: /);
    expect((await init(['--node-id', nodeId, '--kind', 'p256'])).code).toBe(1);
    const again = await init(['--node-id', nodeId, '--kind', 'ed25519', '--json']);
    expect(again.code, again.err.join('\n')).toBe(0);
    const state = readState(dir);
    expect(state.bootstrap.descriptor.fingerprint).toBe((credential.snapshot.context as { fingerprint?: string }).fingerprint);
    expect(readdirSync(dir)).not.toContain('device-init.pending.json');
  }, 60_000);

  it("init refuses to finish an unfinished one whose key is not in the folder as it describes it (found in review: it was sent anyway)", async () => {
    const dir = join(root, 'meter-edited');
    const proxy = await lossyProxy();
    try {
      expect((await device(['init', '--node-id', 'meter-edited', '--kind', 'ed25519', '--bootstrap-id', 'edited-boot', '--dir', dir, '--server', proxy.url, '--token', service.tokens.operator])).code).toBe(3);
    } finally {
      await proxy.close();
    }
    const file = join(dir, 'device-init.pending.json');
    // The handle of a key this Secure Environment does not hold (a wiped or restored one, or an edited file).
    const pending = JSON.parse(readFileSync(file, 'utf8')) as { handle: string };
    writeFileSync(file, JSON.stringify({ ...pending, handle: `${pending.handle.slice(0, -1)}${pending.handle.endsWith('A') ? 'B' : 'A'}` }));
    const edited = await device(['init', '--node-id', 'meter-edited', '--kind', 'ed25519', '--bootstrap-id', 'edited-boot', '--dir', dir, '--server', service.url, '--token', service.tokens.operator]);
    expect(edited.code).toBe(1);
    expect(edited.err.join('\n')).toMatch(/is not in this folder's Secure Environment as it describes it/);
  }, 60_000);

  it('--help on device and every subcommand', async () => {
    for (const sub of [[], ['init'], ['provision'], ['associate'], ['status'], ['fleet']]) {
      const help = await device([...sub, '--help']);
      expect(help.code).toBe(0);
      expect(help.out.join('\n')).toMatch(/Usage: credence device/);
    }
  });

  it('fleet --count 5: five devices through factory, enrolment, provisioning and association, with a summary', async () => {
    const fleet = await device(['fleet', '--count', '5', '--concurrency', '3', '--prefix', 'fl', '--json'], { CREDENCE_URL: service.url, CREDENCE_TOKEN: service.tokens.operator });
    expect(fleet.code, fleet.err.join('\n')).toBe(0);
    expect(fleet.json()).toMatchObject({ prefix: 'fl', count: 5, initialised: 5, provisioned: 5, associated: 5, failed: 0, failures: [] });
    expect(fleet.json()['devicesPerSecond']).toBeGreaterThan(0);
    const { engine } = service.service.context.credence;
    for (let i = 1; i <= 5; i++) expect(String((await engine.entity('association', `fl-${i}-sa`)).snapshot.value)).toBe('associated');

    // The same prefix again: every node id is taken, so every device fails at the factory and the exit code says so.
    const again = await device(['fleet', '--count', '2', '--prefix', 'fl2', '--server', service.url, '--token', service.tokens.operator]);
    expect(again.code).toBe(0);
    const clash = await device(['fleet', '--count', '2', '--prefix', 'fl2', '--server', service.url, '--token', service.tokens.operator]);
    expect(clash.code).toBe(1);
  }, 120_000);
});
