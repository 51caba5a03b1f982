/**
 * listKeys, held against every Secure Environment as part of the conformance suite (secure-environment-conformance.suite.ts):
 * an operator finds the keys an owner holds, those no record of a data folder names included (a kill between a
 * key's generate and its record leaves one), by handle and kind only.
 */
import { expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import type { AgreementGroup } from '../domain/crypto/agreement.ts';
import { ownerView } from '../domain/ports/owner-view.ts';
import type { KeyHandle, ListedKey } from '../domain/ports/secure-environment.ts';
import type { ConformanceTarget, ConformingSecureEnvironment } from './secure-environment-conformance.suite.ts';

const text = (s: string) => new TextEncoder().encode(s);

/** Every key of `owner`, page by page, failing on a handle seen twice or out of order. */
const listAll = async (se: ConformingSecureEnvironment, owner: string, limit: number): Promise<{ keys: ListedKey[]; pages: number }> => {
  const keys: ListedKey[] = [];
  let after: KeyHandle | undefined;
  for (let pages = 1; pages < 1000; pages += 1) {
    const page = await se.listKeys(owner, { limit, ...(after ? { after } : {}) });
    expect(page.keys.length).toBeLessThanOrEqual(limit);
    keys.push(...page.keys);
    if (page.next === undefined) {
      const handles = keys.map((k) => k.handle);
      expect(handles).toEqual([...new Set(handles)].sort());
      return { keys, pages };
    }
    expect(page.next).toBe(page.keys.at(-1)?.handle);
    after = page.next;
  }
  throw new Error('listKeys never ended');
};

type Owners = { readonly ALICE: string; readonly BOB: string; readonly MALLORY: string };

/** The conformance suite's fresh owners, and its runner of one test (a Secure Environment of the target, closed after). */
export interface ConformanceRig {
  readonly owners: () => Owners;
  readonly withSe: (test: (se: ConformingSecureEnvironment, o: Owners) => Promise<void>) => () => Promise<void>;
}

export const keyListingConformance = (target: ConformanceTarget, { owners, withSe }: ConformanceRig): void => {
  const group = target.agreementGroups[0] as AgreementGroup;

  it('listKeys: a key generated is listed under its owner and not under another owner', withSe(async (se, { ALICE, BOB }) => {
    expect(await se.listKeys(ALICE)).toEqual({ keys: [] });
    const key = await se.generate(ALICE, 'psk256');
    expect((await se.listKeys(ALICE)).keys.map((k) => k.handle)).toEqual([key]);
    expect(await se.listKeys(BOB)).toEqual({ keys: [] });
    const bobs = await se.generate(BOB, 'ed25519');
    expect((await se.listKeys(ALICE)).keys.map((k) => k.handle)).toEqual([key]);
    expect((await ownerView(se, BOB).listKeys()).keys.map((k) => k.handle)).toEqual([bobs]);
  }));

  it('listKeys: a destroyed key is no longer listed, before or after a restart; an ephemeral one not after a restart', async () => {
    const { ALICE } = owners();
    const fixture = target.open();
    const kept = await fixture.se.generate(ALICE, 'ed25519');
    const gone = await fixture.se.generate(ALICE, 'psk256');
    const ephemeral = await fixture.se.generate(ALICE, group, { ephemeral: true });
    expect((await fixture.se.listKeys(ALICE)).keys.map((k) => k.handle).sort()).toEqual([kept, gone, ephemeral].sort());
    await fixture.se.destroy(ALICE, gone);
    expect((await fixture.se.listKeys(ALICE)).keys.map((k) => k.handle).sort()).toEqual([kept, ephemeral].sort());
    const again = fixture.restart();
    try {
      expect((await again.listKeys(ALICE)).keys.map((k) => k.handle)).toEqual([kept]);
      await again.destroy(ALICE, kept);
      expect(await again.listKeys(ALICE)).toEqual({ keys: [] });
    } finally {
      again.close();
    }
  });

  it('listKeys: keys of every kind are listed with their kind, usage and lifetime, and nothing of their material', withSe(async (se, { ALICE }) => {
    const expected = new Map<KeyHandle, Omit<ListedKey, 'handle' | 'createdAt'>>();
    const made = async (handle: Promise<KeyHandle>, facts: Omit<ListedKey, 'handle' | 'createdAt'>) => {
      const h = await handle;
      expected.set(h, facts);
      return h;
    };
    await made(se.generate(ALICE, 'psk256'), { kind: 'psk256', ephemeral: false });
    await made(se.generate(ALICE, 'psk256', { extractable: true }), { kind: 'psk256', ephemeral: false });
    await made(se.generate(ALICE, 'ed25519'), { kind: 'ed25519', usage: 'sign', ephemeral: false });
    await made(se.generate(ALICE, 'p256'), { kind: 'p256', usage: 'sign', ephemeral: false });
    const mine = await made(se.generate(ALICE, group, { ephemeral: true }), { kind: group, usage: 'agree', ephemeral: true });
    const peer = await made(se.generate(ALICE, group, { ephemeral: true }), { kind: group, usage: 'agree', ephemeral: true });
    const peerKey = (await se.describe(ALICE, peer)).publicKey as Uint8Array;
    const secret = await made(se.agree(ALICE, mine, peerKey), { kind: 'secret', ephemeral: true });
    if (target.derivation === 'offered') await made(se.deriveKey(ALICE, { inputs: [secret], salt: text('s'), info: text('i'), kind: 'session256' }), { kind: 'session256', ephemeral: false });
    const { keys } = await se.listKeys(ALICE);
    expect(keys).toHaveLength(expected.size);
    for (const key of keys) {
      const { handle, createdAt, ...facts } = key;
      expect(facts).toEqual(expected.get(handle));
      // A handle, facts and perhaps a time: no public key, fingerprint or byte array rides along.
      expect(Object.keys(key).every((field) => ['handle', 'kind', 'usage', 'ephemeral', 'createdAt'].includes(field))).toBe(true);
      if (createdAt !== undefined) expect(new Date(createdAt).toISOString()).toBe(createdAt);
    }
  }));

  it('listKeys: paging returns each key once, in handle order, whatever is generated or destroyed between pages', withSe(async (se, { ALICE }) => {
    const handles: KeyHandle[] = [];
    for (let i = 0; i < 7; i += 1) handles.push(await se.generate(ALICE, i % 2 === 0 ? 'psk256' : 'ed25519'));
    for (const limit of [1, 2, 3, 7, 100]) {
      const { keys, pages } = await listAll(se, ALICE, limit);
      expect(keys.map((k) => k.handle)).toEqual([...handles].sort());
      expect(pages).toBe(Math.max(1, Math.ceil(handles.length / limit)));
    }
    const first = await se.listKeys(ALICE, { limit: 3 });
    expect(first.keys).toHaveLength(3);
    const destroyed = first.keys[0]?.handle as KeyHandle;
    await se.destroy(ALICE, destroyed);
    const added = await se.generate(ALICE, 'psk256');
    const rest: ListedKey[] = [];
    for (let after = first.next; after !== undefined; ) {
      const page = await se.listKeys(ALICE, { after, limit: 3 });
      rest.push(...page.keys);
      after = page.next;
    }
    const seen = [...first.keys, ...rest].map((k) => k.handle);
    expect(seen).toHaveLength(new Set(seen).size);
    const live = [...handles.filter((h) => h !== destroyed), added].sort();
    // What was there throughout is listed once; the key added meanwhile only if it sorts after the cursor.
    expect(live.filter((h) => h !== added).every((h) => seen.includes(h))).toBe(true);
    expect(seen.includes(added)).toBe(added > (first.next as string));
  }));

  it('listKeys: a page bound or cursor that is no such thing is refused, naming it; an owner not served is unauthorised', async () => {
    const { ALICE, MALLORY } = owners();
    const { se } = target.open({ owners: [ALICE] });
    try {
      for (const limit of [0, -1, 1.5, 1001, Number.NaN]) await expect(se.listKeys(ALICE, { limit })).rejects.toThrow(/request\.limit/);
      await expect(se.listKeys(ALICE, { after: 'x'.repeat(10_000) as KeyHandle })).rejects.toThrow(/request\.after: .*10000 characters/);
      await expect(se.listKeys(ALICE, { limit: 1000 })).resolves.toEqual({ keys: [] });
      await expect(se.listKeys(MALLORY)).rejects.toSatisfy((e) => isCredenceError(e, 'unauthorised'));
    } finally {
      se.close();
    }
  });
};
