/**
 * Review 202 finding 4: the first start after the upgrade goes again over every ending of the log (an older keys.db
 * holds no shredder mark) before the API listens. It read them through `readAll` (a promise per record) and said
 * nothing of how far it was, and its warning counted the keys whose destruction the Secure Environment refused (owed)
 * as destroyed again. It now reads the store's synchronous pages where the store has them, yields between pages with
 * how far it read (`shreddingAgain`, for the catch-up's progress), and counts owed keys apart.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { markedKeyShredder, shreddedAgainWarning, type ShreddedAgain } from '../adapters/runtime/keys-shredded-again.ts';
import type { ShredderMark } from '../adapters/driven/key-registry/index.ts';
import type { RecordedEvent } from '../domain/ports/event-store.ts';
import type { KeyShredder } from '../adapters/protocols/procedures/index.ts';
import { restartableWorld, type RestartableWorld } from './support/restartable-world.ts';

let world: RestartableWorld | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await world?.close();
  world = undefined;
});

const ENDED = ['credential-meter-1-svc', 'credential-meter-2-svc', 'credential-meter-3-svc'];

describe('a start going again over the endings since keys.db mark (none: an earlier version wrote it)', () => {
  it('reads the store a page at a time without readAll, says how far it is between pages, and counts owed keys apart', async () => {
    world = await restartableWorld('shred-again-pages');
    const w = world;
    for (const node of ['meter-1', 'meter-2', 'meter-3']) await w.provisioned(node, 'ed25519', 'psk256');
    for (const node of ['meter-1', 'meter-2', 'meter-3']) {
      await w.infrastructure.run('revokeCredential', { credentialId: `${node}-svc`, reason: 'keyCompromise' });
    }
    await w.credence.settle();
    const { store, readModels } = w.credence;

    // keys.db as a backup put back holds them: one key each in use, meter-2's refused by the Secure Environment.
    const inUse = new Map(ENDED.map((stream, i) => [stream, [`handle-${i}`]]));
    const owed = new Set<string>();
    let mark: ShredderMark | undefined;
    const registry = {
      live: (stream: string) => (inUse.get(stream) ?? []).filter((h) => !owed.has(h)),
      shredderMark: () => mark,
      setShredderMark: (m: ShredderMark) => void (mark = m),
    };
    const shredder = {
      name: 'key-shredder',
      eventTypes: ['CredentialRevoked', 'CredentialExpired', 'AssociationRevoked', 'AssociationExpired'],
      setup: () => {},
      reset: () => {},
      async react(e: { record: RecordedEvent }) {
        for (const handle of registry.live(e.record.streamId)) {
          if (e.record.streamId === 'credential-meter-2-svc') owed.add(handle);
          else inUse.set(e.record.streamId, []);
        }
      },
      owed: () => [...owed].map((handle) => ({ stream: 'credential-meter-2-svc', handle, purpose: 'psk', failures: 1, lastFailedAt: new Date() })),
    } as unknown as KeyShredder;

    // One record a page: the pass must give the event loop a turn between pages. How far it says it is, seen each time
    // it asks for the next page (after the pages before were handled), not by a timer, which a fast pass could outrun.
    const seen: (bigint | undefined)[] = [];
    let marked: ReturnType<typeof markedKeyShredder> | undefined;
    const pagesSync = store.readAllPagesSync!.bind(store);
    vi.spyOn(store, 'readAllPagesSync').mockImplementation(function* (options) {
      for (const page of pagesSync(options)) {
        for (const record of page) {
          seen.push(marked?.shreddingAgain?.position);
          yield [record];
        }
      }
    });
    const readAll = vi.spyOn(store, 'readAll');

    marked = markedKeyShredder(shredder, registry, { store, readModels });
    const found: ShreddedAgain | undefined = await marked.shredAgain();

    expect(readAll).not.toHaveBeenCalled();
    expect(seen.filter((p) => p !== undefined).length).toBeGreaterThan(0);
    expect(marked.shreddingAgain).toBeUndefined();
    expect(found).toMatchObject({ keys: 2, owed: 1, entities: 3, from: { why: 'no-mark' } });
    const warning = shreddedAgainWarning(found!);
    expect(warning).toMatch(/^2 key\(s\) of 3 /);
    expect(warning).toContain('1 more the Secure Environment refused to destroy are owed, not destroyed yet');
  });
});
