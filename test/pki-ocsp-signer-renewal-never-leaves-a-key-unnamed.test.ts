import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { ownerView, type KeyHandle } from '../domain/ports/index.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { keysMadeBy } from './support/keys-made.ts';
import { testCa } from './support/pki-test-ca.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Found in review 27: a renewal wrote the old file back between its two writes (the old key, nothing retired), so
 * the new key, already certified by the CA and held in the Secure Environment, was named by nothing on disk until the
 * next write; a kill (or a full disk) there left it in the Secure Environment for good, never destroyed. And a new CA
 * certificate dropped the stored key from the file the same way. Now, after every write of the signer file and after
 * a failed write at any of them, every key the signer holds is named by the file, and the key it names is held.
 */
const DAY = 86_400_000;
const folder = temporaryFolders('credence-ocsp-unnamed-');
const originalRename = fs.renameSync;
afterEach(() => {
  fs.renameSync = originalRename;
  syncBuiltinESMExports();
});

type SignerFile = { readonly keyHandle: string; readonly retired: readonly string[] };

/** A data folder, a CA, and a Secure Environment whose every key the test can tell held or destroyed. */
const world = async () => {
  const dataDir = folder();
  let now = Date.now();
  const firstCa = await testCa('default', 'p256', now);
  const raw = memorySecureEnvironment('ocsp-signer-unnamed', () => new Date(now));
  const made = keysMadeBy(raw, ['generate']);
  const se = ownerView(raw, 'maf:infrastructure');
  const path = join(dataDir, 'pki', 'default.ocsp.json');
  const onDisk = (): SignerFile => JSON.parse(fs.readFileSync(path, 'utf8')) as SignerFile;
  const held = (handle: string): boolean => {
    try {
      raw.exportForTest(handle as KeyHandle);
      return true;
    } catch {
      return false;
    }
  };
  /** What the invariant says is wrong right now: keys held but unnamed, or a named key that is gone. */
  const broken = (): string[] => {
    if (!fs.existsSync(path)) return made.filter(held).map((h) => `${h} held, no file`);
    const file = onDisk();
    const named = new Set([file.keyHandle, ...file.retired]);
    return [
      ...made.filter((h) => held(h) && !named.has(h)).map((h) => `${h} held, named by nothing`),
      ...(held(file.keyHandle) ? [] : [`${file.keyHandle} named as the key, not held`]),
    ];
  };
  return {
    made,
    held,
    onDisk,
    broken,
    advance: (ms: number) => {
      now += ms;
    },
    open: (ca: IssuingCa = firstCa) => OcspSigningKey.open({ dataDir, se, ca, random: systemRandom, now: () => now }),
  };
};

/**
 * Every write of the signer file checked the moment it lands (what a kill right after it leaves: `broken` after each),
 * and the `failAt`th one (1-based) failing before its rename, as a full disk or a kill before it would; the writes seen.
 */
const watchWrites = (w: Awaited<ReturnType<typeof world>>, failAt?: number) => {
  const seen: { write: number; file: SignerFile; broken: string[] }[] = [];
  let writes = 0;
  fs.renameSync = ((from: fs.PathLike, to: fs.PathLike) => {
    if (!String(to).endsWith('default.ocsp.json')) return originalRename(from, to);
    writes += 1;
    if (writes === failAt) throw new Error(`write ${writes} of the signer file failed (simulated)`);
    originalRename(from, to);
    seen.push({ write: writes, file: w.onDisk(), broken: w.broken() });
  }) as typeof fs.renameSync;
  syncBuiltinESMExports();
  return {
    seen,
    writes: () => writes,
    stop: () => {
      fs.renameSync = originalRename;
      syncBuiltinESMExports();
    },
  };
};

/** A signer with a key and one retired key (two renewals in), so a renewal has a key to retire and one to destroy. */
const renewedTwice = async () => {
  const w = await world();
  const signer = await w.open();
  for (const _ of [1, 2]) {
    w.advance(5 * DAY);
    await signer.renew();
  }
  expect(w.onDisk().retired).toHaveLength(1);
  expect(w.broken()).toEqual([]);
  return { w, signer };
};

describe('the OCSP signer file names every key the signer holds in the Secure Environment', () => {
  it('after every write of a renewal', async () => {
    const { w, signer } = await renewedTwice();
    const before = w.onDisk();
    const writes = watchWrites(w);
    w.advance(5 * DAY);
    await signer.renew();
    writes.stop();
    expect(writes.seen.length).toBeGreaterThan(0);
    expect(writes.seen.filter((s) => s.broken.length > 0)).toEqual([]);
    // Given K1 retiring R: K2 written beside R and K1, R destroyed, then K2 beside K1 only.
    const k2 = w.onDisk().keyHandle;
    expect(writes.seen.map((s) => [s.file.keyHandle, s.file.retired])).toEqual([
      [k2, [...before.retired, before.keyHandle]],
      [k2, [before.keyHandle]],
    ]);
    expect(w.held(before.retired[0]!)).toBe(false);
  });

  it('when any write of a renewal fails, and the keys left are destroyed by the renewals after a restart', async () => {
    // Every write a renewal makes fails once, in a world of its own (a renewal that fails at none ends the loop).
    for (let failAt = 1; ; failAt += 1) {
      const { w, signer } = await renewedTwice();
      const writes = watchWrites(w, failAt);
      w.advance(5 * DAY);
      const renewal = await signer.renew().then(
        () => 'renewed' as const,
        (error: unknown) => error,
      );
      writes.stop();
      expect(writes.seen.filter((s) => s.broken.length > 0), `a kill right after a write (failing write ${failAt})`).toEqual([]);
      if (renewal === 'renewed') {
        expect(failAt).toBeGreaterThan(1);
        break;
      }
      expect(String(renewal)).toMatch(new RegExp(`write ${failAt} of the signer file failed`));
      expect(w.broken(), `after write ${failAt} failed`).toEqual([]);

      // Restarted: two more renewals destroy every key but the one in use and the one it replaced.
      const again = await w.open();
      for (const _ of [1, 2]) {
        w.advance(5 * DAY);
        await again.renew();
      }
      const file = w.onDisk();
      expect(w.made.filter(w.held).sort(), `failing write ${failAt}`).toEqual([file.keyHandle, ...file.retired].sort());
    }
  });

  it('when the CA certificate changes: the key it certified is destroyed, never dropped from the file while held', async () => {
    const { w } = await renewedTwice();
    const old = w.onDisk();
    const writes = watchWrites(w);
    await w.open(await testCa('default', 'p256', Date.now()));
    writes.stop();
    expect(writes.seen.filter((s) => s.broken.length > 0)).toEqual([]);
    expect(w.held(old.keyHandle)).toBe(false);
    expect(w.onDisk().retired).toEqual([]);
    expect(w.made.filter(w.held)).toEqual([w.onDisk().keyHandle]);
  });
});
