import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register } from '../bin/commands/device.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import type { Io } from '../bin/io.ts';
import { runCommands } from '../bin/program.ts';
import { startTestService, type TestService } from './support/service.ts';

// Found in review: `device init` and `device fleet` checked CREDENCE_TIMEOUT and then waited the client's 30 s
// default anyway, and `device provision` and `device associate` refused --timeout as an unknown option, though the
// CLI's own hint after a timeout says to give it.

let service: TestService;
let silent: Server;
let silentUrl: string;
let root: string;
/** A device initialised, enrolled and provisioned (it has its CSE-ID), for provision and associate to run from. */
let dir: string;
beforeAll(async () => {
  service = await startTestService();
  root = mkdtempSync(join(tmpdir(), 'credence-device-timeout-'));
  silent = createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  const operator = { url: service.url, token: service.tokens.operator };
  const now = new Date();
  await operatorCommand(operator, 'createSubscription', {
    subscriptionId: 'sub-slow', subscriber: 'City Utilities', notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
  });
  dir = join(root, 'meter-slow');
  expect((await device(['init', '--node-id', 'meter-slow', '--kind', 'ed25519', '--dir', dir, '--server', service.url, '--token', operator.token])).code).toBe(0);
  await operatorCommand(operator, 'enrolNode', { nodeId: 'meter-slow', subscriptionId: 'sub-slow', cseId: '/meter-slow-cse' });
  expect((await device(['provision', '--dir', dir, '--credential-id', 'meter-slow-svc', '--kind', 'ed25519', '--server', service.url])).code).toBe(0);
}, 60_000);
afterAll(async () => {
  silent?.closeAllConnections();
  silent?.close();
  await service?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

async function device(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), env };
  const code = await runCommands([register], ['device', ...argv], io);
  return { code, out, err: err.join('\n') };
}

/**
 * Exit 3, naming the 0.3 s given as the wait that ran out: the message names the timeout the client used. Were the
 * one given ignored, the client's 30 s default would outlast each test's 30 s limit, or name 30 s.
 */
const timedOut = (run: { code: number; err: string }): void => {
  expect(run.code, run.err).toBe(3);
  expect(run.err).toMatch(/^error: no answer from http:\/\/127\.0\.0\.1:\d+ within 0\.3 s$/m);
  expect(run.err).toContain('for longer work give --timeout SECONDS or set CREDENCE_TIMEOUT');
};

describe('credence device and the timeout of each answer', () => {
  it('init waits no longer than CREDENCE_TIMEOUT, or --timeout', async () => {
    const args = ['init', '--node-id', 'meter-never', '--kind', 'ed25519', '--dir', join(root, 'meter-never'), '--server', silentUrl, '--token', 't'];
    timedOut(await device(args, { CREDENCE_TIMEOUT: '0.3' }));
    timedOut(await device([...args, '--timeout', '0.3']));
  }, 30_000);

  it('fleet waits no longer than CREDENCE_TIMEOUT, or --timeout', async () => {
    timedOut(await device(['fleet', '--count', '2', '--server', silentUrl, '--token', 't'], { CREDENCE_TIMEOUT: '0.3' }));
    timedOut(await device(['fleet', '--count', '2', '--server', silentUrl, '--token', 't', '--timeout', '0.3']));
  }, 30_000);

  it('provision takes --timeout, and CREDENCE_TIMEOUT', async () => {
    timedOut(await device(['provision', '--dir', dir, '--credential-id', 'meter-slow-svc-2', '--kind', 'ed25519', '--server', silentUrl, '--timeout', '0.3']));
    timedOut(await device(['provision', '--dir', dir, '--credential-id', 'meter-slow-svc-2', '--kind', 'ed25519', '--server', silentUrl], { CREDENCE_TIMEOUT: '0.3' }));
    const bad = await device(['provision', '--dir', dir, '--credential-id', 'meter-slow-svc-2', '--kind', 'ed25519', '--server', silentUrl, '--timeout', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--timeout: must be a number of seconds/);
  }, 30_000);

  it('associate takes --timeout, for the handshake and for configuring the association first', async () => {
    const args = ['associate', '--dir', dir, '--association-id', 'meter-slow-sa', '--credential-id', 'meter-slow-svc', '--server', silentUrl, '--timeout', '0.3'];
    timedOut(await device(args));
    timedOut(await device(args, { CREDENCE_TOKEN: service.tokens.operator }));
  }, 30_000);
});
