import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readState, stateFile } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

// Found in review 24: a device folder had no lock. Two `device init` on one new folder both found it missing; the
// loser, refused by the server, removed the folder in its `finally`: the winner's keys and KEK, whose bootstrap
// credential the server had just enrolled, were gone while the winner exited 0. Two `device provision` or `associate`
// on one folder each wrote device.json from its own copy: the last dropped the other's credentials, their keys left
// unnamed in the Secure Environment, and every run exited 0. A command now holds the folder from opening the device to
// closing it; a second one is refused at once (exit 1), before it reads, writes or sends anything.

const { url, operator, device, enrolledDevice, named, held, fingerprintOnServer } = provisioningDevices('sub-held');
const scratch = temporaryFolders('credence-device-held-');

const heldBy = (dir: string) => `${dir} is held by another credence device command`;

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

const listen = async (handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> => {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

/**
 * A stand-in in front of the service that holds every request until `open()`, then forwards it: a command waiting on
 * its first answer is past opening its device, so it holds the folder (`reached`) for as long as the test wants.
 */
const gate = async () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let arrive!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const forward = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    arrive();
    await opened;
    const answer = await fetch(`${url()}${req.url}`, {
      method: req.method!,
      headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)) as [string, string][]),
      ...(body.length > 0 ? { body } : {}),
    });
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(await answer.text());
  };
  const at = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void forward(req, res, Buffer.concat(chunks)).catch(() => req.socket.destroy()));
  });
  return { url: at, reached, open };
};

/** A server that counts what it is asked and answers 503: a command refused before it talks to a server asks it nothing. */
const counting = async () => {
  let asked = 0;
  const at = await listen((_req, res) => {
    asked++;
    res.writeHead(503).end();
  });
  return { url: at, asked: () => asked };
};

describe('a device folder is held by one credence device command at a time', () => {
  it('provision and associate on a folder another provision holds are refused at once (exit 1), asking the server nothing and writing nothing; the next one, once it ended, works', async () => {
    const dir = await enrolledDevice('held-pa');
    const token = operator().token;
    const before = readFileSync(stateFile(dir));
    const { url: gated, reached, open } = await gate();
    const first = device(['provision', '--dir', dir, '--credential-id', 'held-pa-1', '--kind', 'ed25519', '--server', gated]);
    await reached;

    const elsewhere = await counting();
    const second = await device(['provision', '--dir', dir, '--credential-id', 'held-pa-2', '--kind', 'p256', '--server', elsewhere.url, '--token', token]);
    expect(second.code).toBe(1);
    expect(second.output).toContain(heldBy(dir));
    const associated = await device(['associate', '--dir', dir, '--association-id', 'held-pa-sa', '--credential-id', 'held-pa-1', '--server', elsewhere.url, '--token', token]);
    expect(associated.code).toBe(1);
    expect(associated.output).toContain(heldBy(dir));
    expect(elsewhere.asked()).toBe(0);
    expect(readFileSync(stateFile(dir))).toEqual(before);
    expect(readdirSync(dir)).not.toContain('device-init.pending.json');
    // status only reads device.json, written whole: it answers while the folder is held, with the state last saved.
    const status = await device(['status', '--dir', dir]);
    expect(status.code, status.output).toBe(0);
    expect(status.output).toContain('node held-pa');

    open();
    expect((await first).code).toBe(0);
    // The lock went with the command: the next ones work, and the state keeps what each of them did.
    const next = await device(['provision', '--dir', dir, '--credential-id', 'held-pa-2', '--kind', 'p256', '--server', url()]);
    expect(next.code, next.output).toBe(0);
    const after = await device(['associate', '--dir', dir, '--association-id', 'held-pa-sa', '--credential-id', 'held-pa-1', '--server', url(), '--token', token]);
    expect(after.code, after.output).toBe(0);
    const state = readState(dir);
    expect(state.credentials.map((c) => [c.credentialId, c.descriptor.fingerprint])).toEqual([
      ['held-pa-1', await fingerprintOnServer('held-pa-1')],
      ['held-pa-2', await fingerprintOnServer('held-pa-2')],
    ]);
    expect(state.associations.map((a) => a.associationId)).toEqual(['held-pa-sa']);
    expect(held(dir).map((k) => k.handle)).toEqual(
      [...named(state), ...state.associations.flatMap((a) => [a.sessionKeys.send, a.sessionKeys.receive])].sort(),
    );
  }, 60_000);

  it('an init on a folder another init made and holds is refused at once (exit 1) and never removes it: the winner finishes with its key, the server binds it', async () => {
    const dir = join(scratch(), 'held-init');
    const token = operator().token;
    const { url: gated, reached, open } = await gate();
    const winner = device(['init', '--node-id', 'held-init', '--kind', 'ed25519', '--dir', dir, '--server', gated, '--token', token]);
    await reached;

    const loser = await device(['init', '--node-id', 'held-init', '--kind', 'ed25519', '--dir', dir, '--server', url(), '--token', token]);
    expect(loser.code).toBe(1);
    expect(loser.output).toContain(heldBy(dir));
    expect(existsSync(dir)).toBe(true);
    expect(await fingerprintOnServer('held-init-bootstrap')).toBeUndefined();

    open();
    const won = await winner;
    expect(won.code, won.output).toBe(0);
    const state = readState(dir);
    expect(await fingerprintOnServer('held-init-bootstrap')).toBe(state.bootstrap.descriptor.fingerprint);
    expect(held(dir).map((k) => k.handle)).toEqual(named(state));
    // Let go at the end: the next command on the folder works.
    const status = await device(['status', '--dir', dir, '--json']);
    expect(status.code, status.output).toBe(0);
  }, 60_000);

  it('a command killed while it holds the folder leaves it free: the next one works', async () => {
    const dir = await enrolledDevice('held-killed');
    const { url: gated, reached } = await gate();
    const child = spawn(process.execPath, [
      fileURLToPath(new URL('../bin/credence.mjs', import.meta.url)),
      'device', 'provision', '--dir', dir, '--credential-id', 'held-killed-1', '--kind', 'ed25519', '--server', gated,
    ], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    stops.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    await reached;
    const refused = await device(['provision', '--dir', dir, '--credential-id', 'held-killed-2', '--kind', 'ed25519', '--server', url()]);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(heldBy(dir));
    expect(refused.output).toMatch(new RegExp(`process ${child.pid} on `));

    child.kill('SIGKILL');
    await exited;
    const next = await device(['provision', '--dir', dir, '--credential-id', 'held-killed-2', '--kind', 'ed25519', '--server', url()]);
    expect(next.code, next.output).toBe(0);
    expect(readState(dir).credentials.map((c) => c.credentialId)).toEqual(['held-killed-2']);
  }, 60_000);
});
