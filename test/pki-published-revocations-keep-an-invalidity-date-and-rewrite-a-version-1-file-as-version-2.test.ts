import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filePublishedRevocations, type PublishedRevocation } from '../adapters/driven/pki/published-revocations.ts';
import { isCredenceError } from '../domain/errors.ts';
import { CaId } from '../domain/x509/issuing-ca.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 203: a revocation recorded after the certificate became invalid (a handover or a lapse recorded late) is
 * published dated at its recording with that earlier instant as its invalidityDate (RFC 5280 5.3.2). The ledger of
 * what a CA published keeps it (`invalidSince`), so a revocation listed again after a restore of the event store
 * keeps it too. That is a new field of its lines: the file's version is 2, a version-1 file is read as it was and
 * rewritten under the version-2 header at once, so that an older engine refuses it by its version, not by a line it
 * cannot read.
 */
const ca = CaId.parse('default');
const folder = temporaryFolders('credence-published-v2-');

const revocation = (serialNumber: string, more: Partial<PublishedRevocation> = {}): PublishedRevocation => ({
  serialNumber,
  credentialId: `cred-${serialNumber}`,
  revokedAt: '2026-11-30T10:00:00.000Z',
  reason: 'superseded',
  notAfter: '2027-11-30T10:00:00.000Z',
  ...more,
});

/** `lines` as a published-revocations file of `default` under `header`'s version, in a data folder of its own. */
const given = (version: number, lines: readonly object[]): { dataDir: string; path: string } => {
  const dataDir = folder();
  mkdirSync(join(dataDir, 'pki'), { recursive: true, mode: 0o700 });
  const path = join(dataDir, 'pki', 'default.published.jsonl');
  writeFileSync(path, [{ version, caId: 'default' }, ...lines].map((l) => `${JSON.stringify(l)}\n`).join(''), { mode: 0o600 });
  return { dataDir, path };
};

const refusalOf = (load: () => unknown): unknown => {
  try {
    load();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('the published-revocations file, version 2', () => {
  it('keeps an invalidity date where a revocation has one, and writes none where it has not', () => {
    const dataDir = folder();
    const path = join(dataDir, 'pki', 'default.published.jsonl');
    filePublishedRevocations(dataDir, ca).append([revocation('01', { invalidSince: '2026-11-29T08:00:00.000Z' }), revocation('02')]);

    const kept = filePublishedRevocations(dataDir, ca).load();
    expect(kept.get('01')).toEqual(revocation('01', { invalidSince: '2026-11-29T08:00:00.000Z' }));
    expect(kept.get('02')).toEqual(revocation('02'));
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(JSON.parse(lines[0]!)).toEqual({ version: 2, caId: 'default' });
    expect(lines[2]).not.toContain('invalidSince');
  });

  it('reads a version-1 file as it was and rewrites it under the version-2 header, its records unchanged', () => {
    const records = [revocation('01', { revokedAt: '2026-05-02T00:00:00.000Z' }), revocation('02')];
    const { dataDir, path } = given(1, records);

    const kept = filePublishedRevocations(dataDir, ca).load();

    expect([...kept.values()]).toEqual(records);
    expect(readFileSync(path, 'utf8')).toBe([{ version: 2, caId: 'default' }, ...records].map((l) => `${JSON.stringify(l)}\n`).join(''));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    // Opened again: the same records, the file as the first open left it.
    const rewritten = readFileSync(path, 'utf8');
    expect([...filePublishedRevocations(dataDir, ca).load().values()]).toEqual(records);
    expect(readFileSync(path, 'utf8')).toBe(rewritten);
  });

  it('appends after a version-1 file it rewrote, on a line of its own', () => {
    const { dataDir } = given(1, [revocation('01')]);
    const store = filePublishedRevocations(dataDir, ca);
    store.load();
    store.append([revocation('02', { invalidSince: '2026-11-29T08:00:00.000Z' })]);
    expect([...filePublishedRevocations(dataDir, ca).load().values()]).toEqual([revocation('01'), revocation('02', { invalidSince: '2026-11-29T08:00:00.000Z' })]);
  });

  it('refuses a version-1 file whose line carries an invalidity date, which that version never wrote, and leaves it as it was', () => {
    const { dataDir, path } = given(1, [revocation('01', { invalidSince: '2026-11-29T08:00:00.000Z' })]);
    const before = readFileSync(path, 'utf8');
    const error = refusalOf(() => filePublishedRevocations(dataDir, ca).load());
    expect(isCredenceError(error, 'validation')).toBe(true);
    expect((error as Error).message).toMatch(/published-revocations file of CA default: line 2/);
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('refuses a version-3 file as newer, naming both versions', () => {
    const { dataDir } = given(3, [revocation('01')]);
    expect((refusalOf(() => filePublishedRevocations(dataDir, ca).load()) as Error).message).toMatch(/schema version 3, newer than this build supports \(2\)/);
  });
});
