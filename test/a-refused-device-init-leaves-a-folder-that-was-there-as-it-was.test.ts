import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockDeviceFolder } from '../bin/commands/device/folder-lock.ts';
import { deviceCli } from './support/device-cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { answerWith, forwarded, standInProxy, type StandInHandler } from './support/stand-in-proxy.ts';

// Found in review 126: `device init` opened its Secure Environment (a KEK, its database and wrapping keys) before it
// fetched the pins, and a refusal removed only a folder the run had made: a refused init into an existing folder left
// device-lock.db and secure-environment.kek/.sqlite/.wrapping-keys behind. The pins are now fetched first, and a
// refusal in a folder that was there removes what the run put in it, and nothing that was there before.

let service: TestService;
let root: string;
beforeAll(async () => {
  service = await startTestService();
  root = mkdtempSync(join(tmpdir(), 'credence-device-init-existing-'));
}, 60_000);
afterAll(async () => {
  await service?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

/** An existing folder (mode 700) holding `files`: device-lock.db that of an earlier command's lock, released. */
const existingFolder = (name: string, files: readonly string[]): string => {
  const dir = join(root, name);
  mkdirSync(dir, { mode: 0o700 });
  for (const file of files) {
    if (file === 'device-lock.db') lockDeviceFolder(dir).release();
    else writeFileSync(join(dir, file), 'kept\n');
  }
  return dir;
};

const initThrough = async (handle: StandInHandler, nodeId: string, dir: string) => {
  const proxy = await standInProxy(handle);
  try {
    return await deviceCli(['init', '--node-id', nodeId, '--kind', 'ed25519', '--dir', dir, '--server', proxy.url, '--token', service.tokens.operator]);
  } finally {
    await proxy.close();
  }
};

/** The Registrar CSE's pin with a fingerprint that is not its key's. */
const spoiledRegistrarPin: StandInHandler = async (req, res, body) => {
  const answer = await forwarded(service.url, req, body);
  if (req.url !== '/v1/registrar') return answerWith(res, answer);
  const pin = (await answer.json()) as Record<string, unknown>;
  return answerWith(res, answer, JSON.stringify({ ...pin, fingerprint: `sha256:${'0'.repeat(64)}` }));
};

/** registerNode sent with a profile the server refuses (its own 4xx problem). */
const refusedRegistration: StandInHandler = async (req, res, body) => {
  const sent = body.length > 0 ? (JSON.parse(body.toString('utf8')) as { type?: string; data?: Record<string, unknown> }) : {};
  const spoiled = sent.type === 'registerNode' ? Buffer.from(JSON.stringify({ ...sent, data: { ...sent.data, profile: 'not a profile' } })) : body;
  return answerWith(res, await forwarded(service.url, req, spoiled));
};

describe('credence device init into a folder that was there before', () => {
  it.each([
    ['an empty folder, the registrar pin refused', 'empty-pin', [], spoiledRegistrarPin, /pin\.registrar.*credential_mismatch|credential_mismatch.*pin\.registrar/s],
    ['a folder holding a file, the registrar pin refused', 'file-pin', ['notes.txt'], spoiledRegistrarPin, /credential_mismatch/],
    ['an empty folder, registerNode refused by the server', 'empty-register', [], refusedRegistration, /profile/],
    ['a folder holding a file and a lock of its own, registerNode refused', 'file-register', ['notes.txt', 'device-lock.db'], refusedRegistration, /profile/],
  ] as const)('is left as it was when refused: %s', async (_case, name, files, handle, said) => {
    const dir = existingFolder(name, files);
    const init = await initThrough(handle, `meter-${name}`, dir);
    expect(init.code, init.output).not.toBe(0);
    expect(init.output).toMatch(said);
    expect(readdirSync(dir).sort()).toEqual([...files].sort());
  }, 60_000);

  it('is initialized as before when nothing is refused, its files kept', async () => {
    const dir = existingFolder('fine', ['notes.txt']);
    const init = await initThrough(async (req, res, body) => answerWith(res, await forwarded(service.url, req, body)), 'meter-fine', dir);
    expect(init.code, init.output).toBe(0);
    expect(readdirSync(dir)).toEqual(expect.arrayContaining(['notes.txt', 'device.json', 'secure-environment.kek']));
  }, 60_000);
});
