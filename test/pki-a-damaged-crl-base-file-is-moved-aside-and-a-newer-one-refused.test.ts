import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileCrlBase } from '../adapters/driven/pki/crl-base.ts';
import type { Credence, PkiRevocation } from '../adapters/runtime/index.ts';
import type { CaId, IssuingCa } from '../domain/x509/issuing-ca.ts';
import { closePkiInstance, dataFolderPki } from './support/pki-instance.ts';
import { testCa } from './support/pki-test-ca.ts';

/*
 * Review 157: a damaged <data>/pki/<ca>.crl-base.json (a write cut short, a disk fault) stopped the service from
 * starting, though losing it only makes the deltas take a new base. It is moved aside and told; a file of a newer
 * version is still refused, as that version's file must not be overwritten.
 */

describe('a damaged CRL base file is moved aside and the start goes on; a newer one is refused (review 157)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-crl-base-damaged-'));
  const folder = dataFolderPki(dir);
  const path = join(dir, 'pki', 'default.crl-base.json');
  const t = {} as { credence: Credence; pki?: PkiRevocation; ca: IssuingCa };
  beforeAll(async () => {
    t.credence = folder.open();
    t.ca = await testCa('default', 'p256');
  }, 60_000);
  afterAll(() => closePkiInstance({ pki: t.pki, credence: t.credence, se: folder.se, dir }));

  it('refuses a file of a newer version, telling the versions, and leaves it as it was', async () => {
    mkdirSync(join(dir, 'pki'), { recursive: true });
    const newer = '{"version":99,"caId":"default"}\n';
    writeFileSync(path, newer);
    await expect(folder.start(t.credence, t.ca)).rejects.toMatchObject({
      problem: {
        issues: [
          expect.objectContaining({
            path,
            rule: 'schema_version',
            message: expect.stringMatching(/version 99, newer than this build supports \(3\).*move the file out of the data folder/),
          }),
        ],
      },
    });
    expect(readFileSync(path, 'utf8')).toBe(newer);
  }, 60_000);

  it('moves a truncated file aside, says so naming it, and serves CRLs on a new base', async () => {
    writeFileSync(path, '{"version":1,');
    const told: { caId: CaId; path: string; movedTo: string; why: string }[] = [];
    t.pki = await folder.start(t.credence, t.ca, { onCrlBaseSetAside: (caId, path, movedTo, why) => told.push({ caId, path, movedTo, why }) });
    expect(told).toEqual([{ caId: 'default', path, movedTo: `${path}.damaged`, why: 'not JSON' }]);
    expect(readFileSync(`${path}.damaged`, 'utf8')).toBe('{"version":1,');
    const full = await t.pki.crl('default')!.full();
    const delta = await t.pki.crl('default')!.delta();
    // Signed together at the start: one number (RFC 5280 5.2.3, review 312), on a new base below it.
    expect(delta.crlNumber).toBe(full.crlNumber);
    // The new base is kept again, readable.
    await t.pki.crl('default')!.settled();
    expect(fileCrlBase(dir, 'default' as CaId).load()?.crlNumber).toBeGreaterThan(0);
  }, 60_000);

  it('reads a file of version 1 (review 148) as it was written', () => {
    const other = mkdtempSync(join(tmpdir(), 'credence-crl-base-v1-'));
    try {
      mkdirSync(join(other, 'pki'));
      writeFileSync(join(other, 'pki', 'default.crl-base.json'), '{"version":1,"caId":"default","crlNumber":7,"keyId":"ab","serials":["01"]}\n');
      expect(fileCrlBase(other, 'default' as CaId).load()).toEqual({ crlNumber: 7, keyId: 'ab', serials: ['01'] });
      expect(existsSync(join(other, 'pki', 'default.crl-base.json.damaged'))).toBe(false);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
