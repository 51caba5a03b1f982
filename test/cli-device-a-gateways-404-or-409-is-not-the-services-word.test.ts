import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProblemResponse } from '../adapters/client/http.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { register } from '../bin/commands/device.ts';
import { readPendingInit, writePendingInit } from '../bin/commands/device/pending-init.ts';
import { now, openDevice, openDeviceSecureEnvironment, random } from '../bin/commands/device/simulator.ts';
import { associate, operatorCommand } from '../bin/commands/device/steps.ts';
import { factory } from '../bin/commands/device/factory.ts';
import type { Io } from '../bin/io.ts';
import { runCommands } from '../bin/program.ts';
import { startTestService, type TestService } from './support/service.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Found in review (after 64 F3): the device CLI took a gateway's 404 for the service's "absent" and its 409 for the
// service's "already configured". Only the service's own problem (its problem types; not_found for a 404) is its word:
// a gateway's HTML 404 to the read of the bootstrap credential let `device init` destroy a key the server held.

let service: TestService;
let root: string;
beforeAll(async () => {
  service = await startTestService();
  root = mkdtempSync(join(tmpdir(), 'credence-device-gw-word-'));
}, 60_000);
afterAll(async () => {
  await service?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

const profile = { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] };
const gatewayPage = (status: number) => `<html><body><h1>${status}</h1><p>gateway</p></body></html>`;

/** A stand-in gateway in front of the service that answers `spoiled` requests with its own HTML page; every request seen. */
const gateway = (spoiled: (method: string, path: string, body: string) => number | undefined) => {
  const seen: string[] = [];
  const proxy = standInProxy(async (req, res, body) => {
    seen.push(`${req.method} ${req.url}`);
    const status = spoiled(req.method!, req.url!, body.toString('utf8'));
    if (status !== undefined) return res.writeHead(status, { 'content-type': 'text/html' }).end(gatewayPage(status));
    return answerWith(res, await forwarded(service.url, req, body));
  });
  return { seen, proxy };
};

/** Whether the folder's Secure Environment still holds `handle`. */
const held = (dir: string, nodeId: string, handle: string) => {
  const se = openDeviceSecureEnvironment(dir);
  return se.describe(`node:${nodeId}`, handle as never).then(() => true, () => false).finally(() => se.close());
};

describe('device init, when its commands are refused and a gateway answers the read of the bootstrap credential with an HTML 404', () => {
  it('keeps the key and the pending init: the gateway does not say the server holds no such credential', async () => {
    const nodeId = 'gw-held';
    const bootstrapCredentialId = 'gw-held-boot';
    const dir = join(root, nodeId);
    // An init left pending by an earlier version, whose commands the server recorded under command ids of their own:
    // the rerun's registration is the service's refusal (409), and the server binds the credential to the pending key.
    const se = openDeviceSecureEnvironment(dir);
    const at = now();
    const validity = { notBefore: at.toISOString(), notAfter: new Date(at.getTime() + 86_400_000).toISOString() };
    const { handle, descriptor } = await new Device({ nodeId, se, now, random }).generateBootstrap('ed25519', validity).finally(() => se.close());
    writePendingInit(dir, { version: 1, nodeId, bootstrapCredentialId, registration: JSON.stringify({ nodeId, profile, bootstrapCredentialId }), handle, descriptor, validity });
    const operator = { url: service.url, token: service.tokens.operator };
    await operatorCommand(operator, 'registerNode', { nodeId, profile, bootstrapCredentialId }, randomUUID());
    await operatorCommand(operator, 'issueCredential', {
      credentialId: bootstrapCredentialId, kind: 'ed25519', purpose: 'bootstrap', owner: { kind: 'node', id: nodeId },
      fingerprint: descriptor.fingerprint, publicKey: (descriptor as { publicKey: string }).publicKey, ...validity,
    }, randomUUID());

    const read = `GET /v1/entities/credential/${bootstrapCredentialId}`;
    const { seen, proxy } = gateway((method, path) => (`${method} ${path}` === read ? 404 : undefined));
    const { url, close } = await proxy;
    let refused: unknown;
    try {
      refused = await factory({ url, token: service.tokens.operator }, { dir, nodeId, kind: 'ed25519', profile, bootstrapCredentialId, validForSeconds: 86_400 })
        .then(() => undefined, (e: unknown) => e);
    } finally {
      await close();
    }

    expect(refused).toBeInstanceOf(ProblemResponse);
    expect((refused as ProblemResponse).status).toBe(409);
    expect(seen).toContain(read);
    expect(readPendingInit(dir)?.handle).toBe(handle);
    expect(await held(dir, nodeId, handle)).toBe(true);
  }, 60_000);
});

describe('device init, when a gateway answers the check that the node id is unused with an HTML 404', () => {
  it('is refused with the gateway\'s answer before any key is made or any command sent', async () => {
    const nodeId = 'gw-unused';
    const dir = join(root, nodeId);
    const { seen, proxy } = gateway((method, path) => (`${method} ${path}` === `GET /v1/entities/node/${nodeId}` ? 404 : undefined));
    const { url, close } = await proxy;
    let refused: unknown;
    try {
      refused = await factory({ url, token: service.tokens.operator }, { dir, nodeId, kind: 'ed25519', profile, bootstrapCredentialId: `${nodeId}-boot`, validForSeconds: 86_400 })
        .then(() => undefined, (e: unknown) => e);
    } finally {
      await close();
    }

    expect(refused).toBeInstanceOf(ProblemResponse);
    expect((refused as ProblemResponse).problem.type).toBe('about:blank');
    expect(seen.filter((s) => s.startsWith('POST'))).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect((await service.service.context.credence.engine.entity('node', nodeId)).events).toEqual([]);
  }, 60_000);
});

describe('device associate, when a gateway answers the configuration of the association with an HTML 409', () => {
  it('ends with the gateway\'s answer and sends no handshake, where the service\'s 409 (already configured) goes on to it', async () => {
    const nodeId = 'gw-assoc';
    const dir = join(root, nodeId);
    const operator = { url: service.url, token: service.tokens.operator };
    const at = new Date();
    await operatorCommand(operator, 'createSubscription', {
      subscriptionId: 'sub-gw', subscriber: 'City Utilities', notBefore: at.toISOString(), notAfter: new Date(at.getTime() + 365 * 86_400_000).toISOString(),
    });
    const io: Io = { out: () => {}, err: () => {}, env: {} };
    expect(await runCommands([register], ['device', 'init', '--node-id', nodeId, '--kind', 'ed25519', '--dir', dir, '--server', service.url, '--token', operator.token], io)).toBe(0);
    await operatorCommand(operator, 'enrolNode', { nodeId, subscriptionId: 'sub-gw', cseId: `/${nodeId}-cse` });
    expect(await runCommands([register], ['device', 'provision', '--dir', dir, '--credential-id', `${nodeId}-svc`, '--kind', 'ed25519', '--server', service.url], io)).toBe(0);

    const { seen, proxy } = gateway((method, _path, body) => (method === 'POST' && body.includes('configureAssociation') ? 409 : undefined));
    const { url, close } = await proxy;
    const sim = openDevice(dir);
    try {
      const run = associate(url, sim, { associationId: `${nodeId}-sa`, credentialId: `${nodeId}-svc`, lifetimeSeconds: 3600, configureWith: { url, token: operator.token } });
      await expect(run).rejects.toSatisfy((e: unknown) => e instanceof ProblemResponse && e.status === 409 && e.problem.type === 'about:blank');
      expect(seen.filter((s) => s.includes('/registrar/'))).toEqual([]);
      expect(sim.state.associations).toEqual([]);

      // The service's own 409: the association is configured already, and the handshake goes on.
      await operatorCommand(operator, 'configureAssociation', {
        associationId: `${nodeId}-sa`, nodeId, credentialId: `${nodeId}-svc`, registree: { kind: 'cse', id: `/${nodeId}-cse` }, registrarCseId: sim.state.pinned.registrar.id,
      });
      const outcome = await associate(service.url, sim, { associationId: `${nodeId}-sa`, credentialId: `${nodeId}-svc`, lifetimeSeconds: 3600, configureWith: operator });
      expect(outcome.registreeId).toBe(`/${nodeId}-cse`);
    } finally {
      sim.close();
      await close();
    }
  }, 60_000);
});
