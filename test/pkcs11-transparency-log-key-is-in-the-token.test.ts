/**
 * Review 46: `credence serve --secure-environment pkcs11:…` still wrote `transparency.key` into the data folder, so
 * whoever could read the folder could sign checkpoints. With an HSM the log key is now generated in the token (owner
 * credence:transparency-log) and found again at the next start; transparency.pub is written as before, so
 * `credence verify` works unchanged. A folder that already has transparency.key keeps it (verifiers pinned it) and
 * the start says so at warn; a folder whose recorded key the token does not hold is refused.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { DEFAULT_LOG_ORIGIN, KEY_FILE, KEY_HANDLE_FILE, LOG_KEY_OWNER, openTransparencyInDir, PUBLIC_KEY_FILE } from '../adapters/driven/transparency/index.ts';
import { parseVerifierKey } from '../domain/transparency/note.ts';
import { streamIdOf } from '../domain/streams.ts';
import { capture } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { softHsm, softHsmMissing, type TestToken } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-hsm-log-key-');

let nodes = 0;

/** Starts the service on `data`, registers a node (so closing signs a checkpoint), closes it; returns its log lines. */
const serveOnce = async (data: string, secureEnvironment?: string): Promise<string> => {
  let logged = '';
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged += chunk.toString();
      done();
    },
  });
  const config = serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'info', durability: 'normal', data, ...(secureEnvironment ? { secureEnvironment } : {}) });
  const service = await startService(config, { logStream });
  try {
    await service.context.credence.engine.execute(cmd.registerNode(`meter-${++nodes}`));
  } finally {
    await service.close();
  }
  return logged;
};

const verifyData = async (data: string): Promise<{ code: number; out: string }> => {
  const run = capture();
  const code = await main(['verify', '--data', data], run.io);
  return { code, out: [...run.out, ...run.err].join('\n') };
};

describe.skipIf(softHsmMissing !== undefined)('the transparency log key with a PKCS#11 Secure Environment', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('alpha');
  const other = hsm.token('beta');
  const logKeysIn = (t: TestToken): number => hsm.listObjects(t).split(/\n(?=\S)/).filter((block) => block.includes(LOG_KEY_OWNER) && block.startsWith('Private Key Object')).length;

  it('is generated in the token, never in the folder; checkpoints verify against transparency.pub; a restart finds the same key', async () => {
    const data = join(scratch(), 'data');
    const logged = await serveOnce(data, token.uri());
    expect(existsSync(join(data, KEY_FILE))).toBe(false);
    expect(existsSync(join(data, KEY_HANDLE_FILE))).toBe(true);
    expect(logKeysIn(token)).toBe(1);
    // Same note format and key ID derivation as a key file's: `<origin>+<key ID>+<base64 key>`.
    const pinned = readFileSync(join(data, PUBLIC_KEY_FILE), 'utf8');
    expect(parseVerifierKey(pinned.trim())?.keyName).toBe(DEFAULT_LOG_ORIGIN);
    expect(await verifyData(data)).toMatchObject({ code: 0 });
    expect(logged).not.toContain('transparency log key is in the data folder');

    const handle = readFileSync(join(data, KEY_HANDLE_FILE), 'utf8');
    await serveOnce(data, token.uri());
    expect(readFileSync(join(data, KEY_HANDLE_FILE), 'utf8')).toBe(handle);
    expect(readFileSync(join(data, PUBLIC_KEY_FILE), 'utf8')).toBe(pinned);
    expect(existsSync(join(data, KEY_FILE))).toBe(false);
    expect(logKeysIn(token)).toBe(1);
    // Checkpoints of both runs verify against the key pinned after the first.
    expect(await verifyData(data)).toMatchObject({ code: 0 });
    for (const output of [logged, (await verifyData(data)).out]) expect(output).not.toContain(token.pin);
  });

  it('a local export signs with the key in the token, and the bundle verifies against transparency.pub', async () => {
    const data = join(scratch(), 'data');
    await serveOnce(data, token.uri());
    const out = join(scratch(), 'bundle.json');
    const exported = capture();
    const env = { CREDENCE_SECURE_ENVIRONMENT: token.uri() };
    const stream = streamIdOf('node', `meter-${nodes}`);
    expect(await main(['export', stream, '--out', out, '--data', data], { ...exported.io, env })).toBe(0);
    expect(existsSync(join(data, KEY_FILE))).toBe(false);
    const checked = capture();
    expect(await main(['verify', out, '--key', join(data, PUBLIC_KEY_FILE)], checked.io)).toBe(0);
    // Without the HSM setting it is refused, not signed with a key file made on the spot.
    const refused = capture();
    expect(await main(['export', stream, '--out', join(scratch(), 'b2.json'), '--data', data], { ...refused.io, env: {} })).not.toBe(0);
    expect(refused.err.join('\n')).toContain('CREDENCE_SECURE_ENVIRONMENT');
    expect(existsSync(join(data, KEY_FILE))).toBe(false);
  });

  it("a local export given the service's --config file finds the HSM and the data folder there", async () => {
    const data = join(scratch(), 'data');
    await serveOnce(data, token.uri());
    // As the service was run: `credence serve --config credence.json`, the Secure Environment in the file only.
    const config = join(scratch(), 'credence.json');
    writeFileSync(config, JSON.stringify({ data, secureEnvironment: token.uri() }), { mode: 0o600 });
    const out = join(scratch(), 'bundle.json');
    const exported = capture();
    const stream = streamIdOf('node', `meter-${nodes}`);
    expect(await main(['export', stream, '--out', out, '--config', config], { ...exported.io, env: {} })).toBe(0);
    expect(exported.err.join('\n')).not.toContain(token.pin);
    expect(existsSync(join(data, KEY_FILE))).toBe(false);
    const checked = capture();
    expect(await main(['verify', out, '--key', join(data, PUBLIC_KEY_FILE)], checked.io)).toBe(0);
    // With --server the file is not the server's to apply: refused as usage, nothing fetched.
    const remote = capture();
    expect(await main(['export', stream, '--out', join(scratch(), 'b2.json'), '--config', config, '--server', 'http://127.0.0.1:9'], { ...remote.io, env: {} })).toBe(2);
    expect(remote.err.join('\n')).toContain('--config: a server applies its own configuration');
  });

  it('a folder that already has transparency.key keeps signing with it, and the start says so once at warn', async () => {
    // As a service of an earlier version left it under an HSM (review 46): its log key in the folder.
    const data = join(scratch(), 'data');
    // Its log with it, made first, as every earlier version did (a key without its log is refused: review 84).
    openTransparencyInDir(data).log.close();
    const key = readFileSync(join(data, KEY_FILE), 'utf8');
    const pinned = readFileSync(join(data, PUBLIC_KEY_FILE), 'utf8');
    const logged = await serveOnce(data, other.uri());
    expect(readFileSync(join(data, KEY_FILE), 'utf8')).toBe(key);
    expect(readFileSync(join(data, PUBLIC_KEY_FILE), 'utf8')).toBe(pinned);
    expect(existsSync(join(data, KEY_HANDLE_FILE))).toBe(false);
    expect(logKeysIn(other)).toBe(0);
    const warnings = logged.split('\n').filter((line) => line.includes('the transparency log key is in the data folder'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40 });
    expect(warnings[0]).toContain('Moving the log key into the HSM');
    expect(logged).not.toContain(key.trim().split('+').slice(3).join('+'));
    expect(logged).not.toContain(other.pin);
    expect(await verifyData(data)).toMatchObject({ code: 0 });
  });

  it('refuses a folder whose recorded log key the token does not hold, is not the log\'s, or is named beside a key file', async () => {
    const data = join(scratch(), 'data');
    const elsewhere = join(scratch(), 'elsewhere');
    await serveOnce(data, token.uri());
    await serveOnce(elsewhere, token.uri());
    const handle = readFileSync(join(data, KEY_HANDLE_FILE), 'utf8');
    const pinned = readFileSync(join(data, PUBLIC_KEY_FILE), 'utf8');
    const keys = logKeysIn(token);
    const start = () => startService(serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', durability: 'normal', data, secureEnvironment: token.uri() }));

    writeFileSync(join(data, KEY_HANDLE_FILE), 'key_AAAAAAAAAAAAAAAAAAAAAAAA\n', { mode: 0o600 });
    await expect(start()).rejects.toThrow(/transparency\.handle names the log key key_A+, which this Secure Environment does not hold as credence:transparency-log/);
    // Another folder's log key, in the same token: not the key that signed this log.
    writeFileSync(join(data, KEY_HANDLE_FILE), readFileSync(join(elsewhere, KEY_HANDLE_FILE)), { mode: 0o600 });
    await expect(start()).rejects.toThrow(/did not sign the latest checkpoint of the transparency log/);
    writeFileSync(join(data, KEY_HANDLE_FILE), handle, { mode: 0o600 });
    writeFileSync(join(data, KEY_FILE), 'PRIVATE+KEY+x', { mode: 0o600 });
    await expect(start()).rejects.toThrow(/holds both a transparency log key file \(transparency\.key\) and the handle/);
    // No key made in the token by any refused start, and transparency.pub still the pinned key.
    expect(logKeysIn(token)).toBe(keys);
    expect(readFileSync(join(data, PUBLIC_KEY_FILE), 'utf8')).toBe(pinned);
  });
});
