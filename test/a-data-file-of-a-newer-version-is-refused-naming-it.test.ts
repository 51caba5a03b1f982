/**
 * Review 119: a data file a newer version wrote was refused naming it, and saying what to do, only for events.db.
 * `credence serve` on a newer keys.db said `key registry file has schema version 3, newer than 2` (no path, no advice,
 * an untyped error), a newer transparency.db the same, and a CA file of `version: 2` was a malformed file
 * (`version: Invalid input: expected 1`). Each is now the same `validation` error: rule `schema_version`, the file's
 * path, the version found and the newest this build supports, and to open it with the version that wrote it; nothing
 * in the folder is written.
 *
 * Review 123: the other versioned files of `<data>/pki/` still read a newer layout as a damaged file (a CRL number file
 * of `version: 2` "is not the CRL number file of CA ca-1"), which invites a repair by hand or a deletion. The CRL
 * number, CRL expiry-mark and OCSP signer files, and a published-revocations file's header line, get the same refusal.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openAccessRegistry } from '../adapters/driven/access/index.ts';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { caFilePath, readCaFile } from '../adapters/driven/pki/index.ts';
import { fileCrlExpiryMarks } from '../adapters/driven/pki/crl-expiry-marks.ts';
import { fileCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import { ocspSignerHandles } from '../adapters/driven/pki/ocsp-signer-handles.ts';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { filePublishedRevocations } from '../adapters/driven/pki/published-revocations.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { openTransparencyLog } from '../adapters/driven/transparency/index.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ownerView } from '../domain/ports/index.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { filesBelow } from './support/files-below.ts';
import { keysMadeBy } from './support/keys-made.ts';
import { testCa } from './support/pki-test-ca.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-newer-data-file-');

const userVersion = (path: string): number => {
  const db = new Database(path, { readonly: true });
  try {
    return Number(db.pragma('user_version', { simple: true }));
  } finally {
    db.close();
  }
};

/** What `open` throws, or a failure naming what it did instead. */
const refusal = (open: () => void): unknown => {
  try {
    open();
  } catch (error) {
    return error;
  }
  throw new Error('opened a file a newer version wrote');
};

/** The refusal every newer data file gets: typed, naming the file, both versions and what to do. */
const expectNewerFileRefused = (error: unknown, path: string, what: string, found: number, supported: number): void => {
  expect(isCredenceError(error, 'validation'), String(error)).toBe(true);
  if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') return;
  const message = `${what} file has schema version ${found}, newer than this build supports (${supported}): a newer version of Credence wrote it; open it with that version`;
  expect(error.problem.issues).toEqual([{ path, rule: 'schema_version', message }]);
  expect(error.message).toBe(`invalid ${what}: ${path}: ${message}`);
};

/** Given a SQLite data file this version made, then a newer version's `user_version`; its supported version. */
const madeThenNewer = async (path: string, make: () => { close(): unknown }, found: number): Promise<number> => {
  // Awaited: the event store closes its connections asynchronously, and a -wal left open is no stopped folder.
  await make().close();
  const supported = userVersion(path);
  expect(found).toBeGreaterThan(supported);
  const db = new Database(path);
  db.pragma(`user_version = ${found}`);
  db.close();
  return supported;
};

describe('a SQLite data file a newer version wrote', () => {
  const cases: readonly { file: string; what: string; open: (dir: string) => { close(): unknown } }[] = [
    { file: 'keys.db', what: 'key registry', open: (dir) => SqliteKeyRegistry.open({ dir }) },
    { file: 'access.db', what: 'access registry', open: (dir) => openAccessRegistry({ dir }) },
    { file: 'transparency.db', what: 'transparency log', open: (dir) => openTransparencyLog({ file: join(dir, 'transparency.db') }) },
    { file: 'events.db', what: 'event store', open: (dir) => openSqliteStore({ file: join(dir, 'events.db') }) },
  ];

  it.each(cases)('$file is refused naming it (schema_version, both versions, the advice), nothing written', async ({ file, what, open }) => {
    const dir = join(folder(), 'data');
    const path = join(dir, file);
    const supported = await madeThenNewer(path, () => open(dir), 99);
    const before = filesBelow(dir);
    expect(Object.keys(before)).toContain(file);

    expectNewerFileRefused(refusal(() => open(dir)), path, what, 99, supported);

    expect(filesBelow(dir)).toEqual(before);
    expect(userVersion(path)).toBe(99);
  });

  it.each(cases)('$file of this version still opens', async ({ open }) => {
    const dir = join(folder(), 'data');
    await open(dir).close();
    await open(dir).close();
  });
});

describe('a CA file a newer version wrote', () => {
  const given = (content: unknown): { dataDir: string; path: string } => {
    const dataDir = folder();
    const path = caFilePath(dataDir, 'root');
    mkdirSync(join(dataDir, 'pki'), { recursive: true, mode: 0o700 });
    writeFileSync(path, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
    return { dataDir, path };
  };

  it('is refused naming it (schema_version, both versions, the advice), not as a malformed file, nothing written', () => {
    // A layout this version does not know: checked before this version's schema, which would call every field wrong.
    const { dataDir, path } = given({ version: 2, id: 'root', status: 'active', keys: [{ handle: 'key_x' }] });
    const before = filesBelow(dataDir);
    expect(Object.keys(before)).toContain(join('pki', 'root.ca.json'));

    expectNewerFileRefused(refusal(() => readCaFile(dataDir, 'root')), path, 'issuing CA', 2, 1);

    expect(filesBelow(dataDir)).toEqual(before);
  });

  it('of this version but malformed is still a malformed file, not a newer one', () => {
    const { dataDir } = given({ version: 1, id: 'root', state: 'active' });
    const error = refusal(() => readCaFile(dataDir, 'root'));
    expect(isCredenceError(error, 'validation')).toBe(true);
    if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') return;
    expect(error.problem.issues.map((i) => i.rule)).not.toContain('schema_version');
  });
});

/** What `open` throws or rejects with, or a failure naming what it did instead. */
const refusalOf = async (open: () => unknown): Promise<unknown> => {
  try {
    await open();
  } catch (error) {
    return error;
  }
  throw new Error('opened a file a newer version wrote');
};

/** The OCSP signer of CA `root` opened over the folder; no key made in the Secure Environment, whatever the outcome. */
const openOcspSigner = async (dataDir: string): Promise<void> => {
  const raw = memorySecureEnvironment('newer-ocsp-signer-file', () => new Date());
  const made = keysMadeBy(raw, ['generate']);
  try {
    await OcspSigningKey.open({ dataDir, se: ownerView(raw, 'maf:infrastructure'), ca: await testCa('root'), random: systemRandom, now: Date.now });
  } finally {
    expect(made).toEqual([]);
  }
};

describe('a pki file of CA root a newer version wrote', () => {
  const cases: readonly {
    kind: string;
    file: string;
    what: string;
    read: (dataDir: string) => unknown;
    newer: string;
    /** The version `newer` names and the one this build supports, where not 2 and 1. */
    versions?: readonly [found: number, supported: number];
    /** A file of this version that is malformed, and the rule it is still refused with. */
    malformed: string;
    rule: string;
  }[] = [
    {
      kind: 'CRL number file',
      file: 'root.crl-number.json',
      what: 'CRL number',
      read: (dataDir) => fileCrlNumbers(dataDir, 'root', Date.now),
      newer: '{"version":2,"caId":"root","reservedThrough":5}\n',
      malformed: '{"version":1,"caId":"root","reservedThrough":-1}\n',
      rule: 'crl_number_file',
    },
    {
      kind: 'CRL expiry-marks file',
      file: 'root.crl-expiry.json',
      what: 'CRL expiry-marks',
      read: (dataDir) => fileCrlExpiryMarks(dataDir, 'root').load(),
      newer: '{"version":2,"caId":"root","marks":{"0a":1}}\n',
      malformed: '{"version":1,"caId":"root","listedBeyondExpiry":"0a"}\n',
      rule: 'crl_expiry_marks_file',
    },
    {
      kind: 'published-revocations file (its header line)',
      file: 'root.published.jsonl',
      what: 'published-revocations',
      read: (dataDir) => filePublishedRevocations(dataDir, 'root').load(),
      // No newline at the end: a torn tail this version's load would cut, were it to read past the header. Version 2
      // is this build's (review 203: a record may carry its invalidity date).
      newer: '{"version":3,"caId":"root","since":"2026-01-01T00:00:00Z"}\n{"serial":"0a"}\n{"serial":"0b"',
      versions: [3, 2],
      malformed: '{"version":2,"caId":"root","since":"2026-01-01T00:00:00Z"}\n',
      rule: 'published_revocations_file',
    },
    {
      kind: 'OCSP signer file (the responder opening it)',
      file: 'root.ocsp.json',
      what: 'OCSP signer',
      read: openOcspSigner,
      newer: '{"version":2,"caId":"root","keys":[{"handle":"key_x"}]}\n',
      malformed: '{"version":1,"caId":"root"}\n',
      rule: 'ocsp_signer_file',
    },
    {
      kind: 'OCSP signer file (the keys it names, for a command destroying keys)',
      file: 'root.ocsp.json',
      what: 'OCSP signer',
      read: ocspSignerHandles,
      newer: '{"version":2,"caId":"root","keys":[{"handle":"key_x"}]}\n',
      malformed: '{"version":1,"caId":"root"}\n',
      rule: 'ocsp_signer_file',
    },
  ];

  const given = (file: string, content: string): { dataDir: string; path: string } => {
    const dataDir = folder();
    mkdirSync(join(dataDir, 'pki'), { recursive: true, mode: 0o700 });
    const path = join(dataDir, 'pki', file);
    writeFileSync(path, content, { mode: 0o600 });
    return { dataDir, path };
  };

  it.each(cases)('$kind is refused naming it (schema_version, both versions, the advice), not as a damaged file, nothing written', async ({ file, what, read, newer, versions }) => {
    const { dataDir, path } = given(file, newer);
    const before = filesBelow(dataDir);
    expect(Object.keys(before)).toEqual([join('pki', file)]);

    expectNewerFileRefused(await refusalOf(() => read(dataDir)), path, what, ...(versions ?? [2, 1]));

    expect(filesBelow(dataDir)).toEqual(before);
    expect(readFileSync(path, 'utf8')).toBe(newer);
  });

  it.each(cases)('$kind of this version but malformed is still refused as before ($rule), not as a newer one', async ({ file, read, malformed, rule }) => {
    const { dataDir, path } = given(file, malformed);
    const error = await refusalOf(() => read(dataDir));
    expect(isCredenceError(error, 'validation'), String(error)).toBe(true);
    if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') return;
    expect(error.problem.issues.map((i) => [i.path, i.rule])).toEqual([[path, rule]]);
  });
});
