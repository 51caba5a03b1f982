import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { factory } from '../bin/commands/device/factory.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { deviceCli } from './support/device-cli.ts';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { openServiceSecureEnvironment } from '../adapters/runtime/index.ts';
import { isCredenceError, type FieldIssue } from '../domain/errors.ts';
import { capture } from './support/cli.ts';
import { withKekFile } from './support/kek-file-env.ts';
import { treeSnapshot } from './support/outside-kek-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { cmd } from './support/fleet.ts';

/*
 * A data folder's keys opened under another key-encryption key than the one that sealed them: the in-folder KEK
 * replaced by another valid one (a restore with another folder's KEK, an attacker's swap), or CREDENCE_KEK_FILE
 * naming another valid KEK (the wrong secret mounted). Every way in refuses with a typed error that names the KEK
 * file, the key database and what to do (put the right KEK back), never a KEK's bytes; and writes nothing: no key
 * made under the wrong KEK beside the old ones, no event, no read model, access.db or KEK file changed.
 *
 * Found before this test: every way in already refused (rule `kek_matches_database`) and wrote nothing, but the
 * refusal said only "the key-encryption key does not open this key database": no file, no advice.
 */
const scratch = temporaryFolders('credence-another-kek-');
const random = (n: number) => new Uint8Array(randomBytes(n));
const now = () => new Date();
const IN_FOLDER = 'secure-environment.kek';
const DATABASE = 'secure-environment.sqlite';
const newKek = (): string => Buffer.from(randomBytes(32)).toString('base64url');

let templates: string;
/** A folder a service ran on and stopped (keys, events, read models, access.db, keys.db), its KEK in the folder. */
let inFolderTemplate: string;
/** The same with its KEK outside it (CREDENCE_KEK_FILE), at `outsideKek`. */
let outsideTemplate: string;
let outsideKek: string;

beforeAll(async () => {
  templates = mkdtempSync(join(tmpdir(), 'credence-another-kek-templates-'));
  inFolderTemplate = join(templates, 'in-folder');
  // One event, so that an export reaches the log key (a stream with none is refused before it, review 218).
  const served = await startTestService({ dir: inFolderTemplate });
  await served.service.context.credence.engine.execute(cmd.createSubscription('sub-kek'));
  await served.close();
  mkdirSync(join(templates, 'secrets'), { mode: 0o700 });
  outsideKek = join(templates, 'secrets', 'credence.kek');
  outsideTemplate = join(templates, 'outside');
  await withKekFile(outsideKek, async () => (await startTestService({ dir: outsideTemplate })).close());
}, 60_000);
afterAll(() => rmSync(templates, { recursive: true, force: true }));

/** A copy of the in-folder template whose KEK was replaced by another valid one; `kek` is the new KEK's text. */
const folderWithItsKekReplaced = () => {
  const dir = join(scratch(), 'data');
  cpSync(inFolderTemplate, dir, { recursive: true });
  const kek = newKek();
  writeFileSync(join(dir, IN_FOLDER), `${kek}\n`, { mode: 0o600 });
  return { dir, kekFile: join(dir, IN_FOLDER), keks: [kek, readFileSync(join(inFolderTemplate, IN_FOLDER), 'utf8').trim()] };
};

/** A copy of the outside template, and CREDENCE_KEK_FILE naming another valid KEK in a private folder. */
const folderWithAnotherOutsideKek = () => {
  const root = scratch();
  const dir = join(root, 'data');
  cpSync(outsideTemplate, dir, { recursive: true });
  mkdirSync(join(root, 'secrets'), { mode: 0o700 });
  const kekFile = join(root, 'secrets', 'credence.kek');
  const kek = newKek();
  writeFileSync(kekFile, `${kek}\n`, { mode: 0o600 });
  return { dir, root, kekFile, env: { CREDENCE_KEK_FILE: kekFile }, keks: [kek, readFileSync(outsideKek, 'utf8').trim()] };
};

const refusalOf = async (run: () => unknown): Promise<FieldIssue[]> => {
  try {
    await run();
  } catch (error) {
    if (isCredenceError(error) && error.problem.code === 'validation') return [...error.problem.issues];
    throw error;
  }
  throw new Error('not refused');
};

/** What the refusal must say, wherever it is read: the KEK file, the key database, the way out; no KEK's bytes. */
const expectNamedRefusal = (text: string, kekFile: string, dir: string, keks: readonly string[]): void => {
  expect(text).toContain(`the KEK file ${kekFile} does not open the key database ${join(dir, DATABASE)}`);
  expect(text).toContain('sealed under another KEK');
  expect(text).toMatch(/put back the KEK this folder was set up with/);
  for (const kek of keks) expect(text).not.toContain(kek);
};

const keyRows = (dir: string): number => {
  const db = new Database(join(dir, DATABASE), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM se_keys').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe('a data folder whose KEK was replaced by another valid KEK', () => {
  it('the service start (npm start, credence serve) is refused by rule kek_matches_database naming the KEK file and what to do; nothing is written', async () => {
    const { dir, kekFile, keks } = folderWithItsKekReplaced();
    const before = treeSnapshot(dir);

    const issues = await refusalOf(() => startService(serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', data: dir }), {}));

    expect(issues.map((i) => [i.path, i.rule])).toEqual([['kek', 'kek_matches_database']]);
    expectNamedRefusal(issues[0]!.message, kekFile, dir, keks);
    expect(issues[0]!.message).toContain(`or, if this folder's KEK is kept outside it, set CREDENCE_KEK_FILE to it`);
    expect(treeSnapshot(dir)).toEqual(before);
  });

  it.each([
    ['serve', ['serve', '--port', '0', '--log-level', 'silent']],
    ['start', ['start', '--port', '0', '--log-level', 'silent']],
    ['key list', ['key', 'list']],
    ['ca init', ['ca', 'init', '--key-type', 'ed25519']],
    ['token create', ['token', 'create', '--role', 'admin', '--subject', 'a', '--ttl', '1h']],
    ['token rotate-key', ['token', 'rotate-key']],
    ['export (signs with the log key)', ['export', 'subscription-sub-kek', '--out', 'OUT']],
  ])('credence %s is refused with that message, exit non-zero; nothing is written', async (_what, args) => {
    const { dir, kekFile, keks } = folderWithItsKekReplaced();
    const before = treeSnapshot(dir);
    const c = capture();

    const out = join(scratch(), 'export.json');
    const code = await main([...args.map((a) => (a === 'OUT' ? out : a)), '--data', dir], { ...c.io, env: {} });

    expect(code).not.toBe(0);
    expectNamedRefusal(c.err.join('\n'), kekFile, dir, keks);
    expect(c.out.join('\n')).not.toMatch(new RegExp(keks.join('|')));
    expect(treeSnapshot(dir)).toEqual(before);
  });

  it("the library's opening (openServiceSecureEnvironment, then openCredence) is refused the same; nothing is written", async () => {
    const { dir, kekFile, keks } = folderWithItsKekReplaced();
    const before = treeSnapshot(dir);

    const issues = await refusalOf(() => openServiceSecureEnvironment(dir, undefined, { now, random, env: {} }));

    expect(issues.map((i) => [i.path, i.rule])).toEqual([['kek', 'kek_matches_database']]);
    expectNamedRefusal(issues[0]!.message, kekFile, dir, keks);
    expect(treeSnapshot(dir)).toEqual(before);
  });

  it('a KEK given inline (the library) is refused naming the key database and what to pass; nothing is written', async () => {
    const { dir } = folderWithItsKekReplaced();
    const before = treeSnapshot(dir);
    const kek = newKek();
    const config = { database: join(dir, DATABASE), wrappingKeys: join(dir, 'secure-environment.wrapping-keys'), kek: { source: 'inline', key: kek } };

    const issues = await refusalOf(() => EmbeddedSecureEnvironment.open(config, { now, random }));

    expect(issues.map((i) => [i.path, i.rule])).toEqual([['kek', 'kek_matches_database']]);
    expect(issues[0]!.message).toContain(`the KEK given inline (kek.key) does not open the key database ${join(dir, DATABASE)}`);
    expect(issues[0]!.message).toContain('pass the KEK this key database was set up with');
    expect(issues[0]!.message).not.toContain(kek);
    expect(treeSnapshot(dir)).toEqual(before);
  });
});

describe('CREDENCE_KEK_FILE naming another valid KEK than the one that sealed the folder', () => {
  it('the service start is refused naming the setting, the file and what to do; neither the folder nor either KEK is written', async () => {
    const { dir, root, kekFile, keks } = folderWithAnotherOutsideKek();
    const before = { all: treeSnapshot(root), kek: treeSnapshot(join(templates, 'secrets')) };

    const issues = await withKekFile(kekFile, () => refusalOf(() => startService(serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', data: dir }), {})));

    expect(issues.map((i) => [i.path, i.rule])).toEqual([['env CREDENCE_KEK_FILE', 'kek_matches_database']]);
    expectNamedRefusal(issues[0]!.message, kekFile, dir, keks);
    expect(issues[0]!.message).toContain('or name the file that holds it');
    expect({ all: treeSnapshot(root), kek: treeSnapshot(join(templates, 'secrets')) }).toEqual(before);
  });

  it.each([
    ['key list', ['key', 'list']],
    ['ca init', ['ca', 'init', '--key-type', 'ed25519']],
    ['token create', ['token', 'create', '--role', 'admin', '--subject', 'a', '--ttl', '1h']],
  ])('credence %s is refused naming the setting and the file; nothing is written', async (_what, args) => {
    const { dir, root, kekFile, env, keks } = folderWithAnotherOutsideKek();
    const before = treeSnapshot(root);
    const c = capture();

    const code = await main([...args, '--data', dir], { ...c.io, env });

    expect(code).not.toBe(0);
    expect(c.err.join('\n')).toContain('env CREDENCE_KEK_FILE: ');
    expectNamedRefusal(c.err.join('\n'), kekFile, dir, keks);
    expect(treeSnapshot(root)).toEqual(before);
  });
});

describe('keys under two KEKs in one key database', () => {
  it('cannot come about: a key asked for under a swapped KEK is refused at the open, the right KEK put back opens every key', async () => {
    const { dir, kekFile } = folderWithItsKekReplaced();
    const right = readFileSync(join(inFolderTemplate, IN_FOLDER), 'utf8');
    const rows = keyRows(dir);
    expect(rows).toBeGreaterThan(0);

    const issues = await refusalOf(async () => {
      const se = openServiceSecureEnvironment(dir, undefined, { now, random, env: {} });
      try {
        await se.generate('maf:infrastructure', 'ed25519');
      } finally {
        se.close();
      }
    });
    expect(issues[0]?.rule).toBe('kek_matches_database');
    expect(keyRows(dir)).toBe(rows);

    writeFileSync(kekFile, right, { mode: 0o600 });
    const se = openServiceSecureEnvironment(dir, undefined, { now, random, env: {} });
    try {
      const page = await se.listKeys('maf:infrastructure', { limit: 100 });
      expect(page.keys.length).toBeGreaterThan(0);
      // describe() unseals the key: each listed one opens under the right KEK.
      for (const key of page.keys) expect((await se.describe('maf:infrastructure', key.handle)).handle).toBe(key.handle);
    } finally {
      se.close();
    }
  });
});

describe("a device's folder whose KEK was replaced", () => {
  it('the device commands are refused naming its KEK file; nothing is written', async () => {
    const service = await startTestService();
    try {
      const operator = { url: service.url, token: service.tokens.operator };
      const at = new Date();
      await operatorCommand(operator, 'createSubscription', {
        subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: at.toISOString(), notAfter: new Date(at.getTime() + 86_400_000).toISOString(),
      });
      const dir = join(scratch(), 'device-meter-1');
      await factory(operator, {
        dir, nodeId: 'meter-1', kind: 'ed25519', bootstrapCredentialId: 'meter-1-boot', validForSeconds: 86_400,
        profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] },
      });
      const kek = newKek();
      writeFileSync(join(dir, IN_FOLDER), `${kek}\n`, { mode: 0o600 });
      const before = treeSnapshot(dir);

      const issues = await refusalOf(() => openDevice(dir).close());
      expect(issues.map((i) => [i.path, i.rule])).toEqual([['kek', 'kek_matches_database']]);
      expectNamedRefusal(issues[0]!.message, join(dir, IN_FOLDER), dir, [kek]);

      const run = await deviceCli(['provision', '--dir', dir, '--server', service.url, '--credential-id', 'meter-1-c', '--kind', 'ed25519']);
      expect(run.code).not.toBe(0);
      expectNamedRefusal(run.output, join(dir, IN_FOLDER), dir, [kek]);
      expect(treeSnapshot(dir)).toEqual(before);
    } finally {
      await service.close();
    }
  });
});
