import { basename, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createRootCa } from '../adapters/driven/pki/create.ts';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { ACCESS_OWNER } from '../adapters/http/auth/open-access-control.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { listFolderKeys } from '../bin/commands/key-list.ts';
import { keyUseIn } from '../bin/commands/keys-in-use.ts';
import type { CaId } from '../domain/x509/issuing-ca.ts';
import { capture } from './support/cli.ts';
import { withDataFolderSe } from './support/key-held.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * `credence key list` read every record of the folder again for each key it listed: keys.db and access.db opened,
 * and every CA file read, once per key, so a token of many keys cost as many reads of each. It reads each folder's
 * records once per owner now. Counted here by the files opened and the record readers called, not by time.
 */
const counts = vi.hoisted(() => ({ opened: new Map<string, number>(), caFiles: 0, ocspFiles: 0 }));

vi.mock('better-sqlite3', async (importOriginal) => {
  const Actual = (await importOriginal<{ default: typeof import('better-sqlite3') }>()).default;
  class Counted extends Actual {
    constructor(file?: string | Buffer, options?: ConstructorParameters<typeof Actual>[1]) {
      super(file, options);
      if (typeof file === 'string') counts.opened.set(basename(file), (counts.opened.get(basename(file)) ?? 0) + 1);
    }
  }
  return { default: Counted };
});
vi.mock('../adapters/driven/pki/ca-file.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../adapters/driven/pki/ca-file.ts')>();
  return {
    ...actual,
    readCaFile: (...args: Parameters<typeof actual.readCaFile>) => {
      counts.caFiles += 1;
      return actual.readCaFile(...args);
    },
  };
});
vi.mock('../adapters/driven/pki/ocsp-signer-handles.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../adapters/driven/pki/ocsp-signer-handles.ts')>();
  return {
    ...actual,
    ocspSignerHandles: (...args: Parameters<typeof actual.ocspSignerHandles>) => {
      counts.ocspFiles += 1;
      return actual.ocspSignerHandles(...args);
    },
  };
});

const scratch = temporaryFolders('credence-key-list-reads-');
const INFRASTRUCTURE = 'maf:infrastructure';
const UNNAMED_EACH = 5;

const credence = async (argv: string[]): Promise<{ code: number; all: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env: {} });
  return { code, all: [...out, ...err].join('\n') };
};

/** A folder with a CA, a key registry, an API token signing key, and UNNAMED_EACH keys of each owner nothing names. */
const folder = async () => {
  const dir = join(scratch(), 'data');
  await withDataFolderSe(dir, INFRASTRUCTURE, (se) =>
    createRootCa({ dataDir: dir, se, id: 'default' as CaId, kind: 'p256', now: new Date(), random: systemRandom }),
  );
  SqliteKeyRegistry.open({ dir }).close();
  const issued = await credence(['token', 'create', '--data', dir, '--role', 'admin', '--subject', 'ops', '--ttl', '1h']);
  expect(issued.code, issued.all).toBe(0);
  for (const owner of [INFRASTRUCTURE, ACCESS_OWNER]) {
    await withDataFolderSe(dir, owner, async (se) => {
      for (let i = 0; i < UNNAMED_EACH; i += 1) await se.generate('ed25519');
    });
  }
  return dir;
};

describe('credence key list reads each folder\'s records once per owner, whatever the number of keys', () => {
  it('opens keys.db and access.db once, and reads the CA file and the OCSP signer files once, for all the keys listed', async () => {
    const dir = await folder();
    // Only what the listing reads: making the folder read some of these too.
    counts.opened.clear();
    counts.caFiles = 0;
    counts.ocspFiles = 0;
    const { io, out, err } = capture();
    const code = await listFolderKeys({ data: [dir], secureEnvironment: undefined, tokenNotShared: false }, { unnamed: false, json: true }, { ...io, env: {} });
    expect(code, err.join('\n')).toBe(0);
    const report = JSON.parse(out.join('\n')) as { listed: number; unnamed: number };
    // The CA's key, the API token signing key, and the keys nothing names.
    expect(report).toEqual(expect.objectContaining({ listed: 2 + 2 * UNNAMED_EACH, unnamed: 2 * UNNAMED_EACH }));
    expect(counts.opened.get('keys.db')).toBe(1);
    expect(counts.opened.get('access.db')).toBe(1);
    expect(counts.caFiles).toBe(1);
    expect(counts.ocspFiles).toBe(1);
  }, 60_000);

  it('key destroy\'s check reads the records for its one key, at the moment it asks', async () => {
    const dir = await folder();
    const registry = SqliteKeyRegistry.open({ dir });
    const handle = await withDataFolderSe(dir, INFRASTRUCTURE, (se) => se.generate('ed25519'));
    expect(await keyUseIn([dir], INFRASTRUCTURE, handle)).toBeUndefined();
    registry.register('infrastructure', handle, 'pseudonym-prf');
    registry.close();
    // Bound since the last check: the next one reads keys.db again and finds it.
    expect((await keyUseIn([dir], INFRASTRUCTURE, handle))?.rule).toBe('key_registry_key_in_use');
  }, 60_000);
});
