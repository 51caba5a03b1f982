import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { EVENT_KIND } from '../domain/events/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { publicLifecycle, type PseudonymKey, type PublicEvent } from '../projections/pseudonyms/index.ts';
import { publicEvents$, type PublicFilterInput } from '../projections/streams/index.ts';
import { T0, cmd } from './support/fleet.ts';
import { collector } from './integrator-streams.fixtures.ts';

// Issue 6 item 3, the public variant: the integrator stream with pseudonyms instead of canonical identities
// (seed 004; SER-011, SER-018, SER-025), resumable anywhere with the same pseudonyms as an unbroken stream.

const key: PseudonymKey = { prf: async (m) => hmacSha256(new Uint8Array(32).fill(0x33), m) };

// Every identifier holds a 0, 1, 8 or 9, which the base32 alphabet of pseudonyms lacks: a match is a real leak.
const CANONICAL = ['sub-01', 'meter-01', 'meter-09', 'cred-01', 'cred-09', 'sa-01', '/cse-meter-01', '/cse-meter-09'];

let c: Credence;
beforeEach(async () => {
  // Each association rotates the node's pseudonym, so the history has epochs for resumes to get right.
  c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), pseudonyms: { key, policy: { default: { onAssociation: true } } } });
  for (const step of [
    cmd.createSubscription('sub-01'),
    cmd.registerNode('meter-01'),
    cmd.registerNode('meter-09'),
    cmd.enrolNode('meter-01', 'sub-01'),
    cmd.enrolNode('meter-09', 'sub-01'),
    cmd.issueCredential('cred-01', 'meter-01'),
    cmd.issueCredential('cred-09', 'meter-09'),
    cmd.provisionCredential('cred-01'),
    cmd.configureAssociation('sa-01', 'cred-01', 'meter-01'),
    cmd.establishAssociation('sa-01'),
  ]) {
    await c.engine.execute(step);
    await c.settle();
  }
  await c.engine.execute(cmd.revokeCredential('cred-01'));
  await c.settle();
});
afterEach(async () => {
  await c.close();
});

const deriver = () => c.pseudonyms!.deriver;
/** The pseudonyms engineer's reference: the whole public history, unbroken, up to the head. */
const unbroken = () => firstValueFrom(publicLifecycle(c.store, deriver(), { live: false }).pipe(toArray()));
const publicOf = (filter: PublicFilterInput, count: number) =>
  firstValueFrom(publicEvents$(c.store, deriver(), filter).pipe(take(count), toArray()));

describe('publicEvents$', () => {
  it('publishes the same events and pseudonyms as the public history, without a canonical identifier', async () => {
    const reference = await unbroken();
    expect(reference.length).toBeGreaterThan(8);
    const events = await publicOf({}, reference.length);
    expect(events).toEqual(reference);
    const text = JSON.stringify(events, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    for (const id of CANONICAL) expect(text).not.toContain(id);
  });

  it('resumed after any position, pseudonymises exactly as the unbroken stream', async () => {
    const reference = await unbroken();
    // meter-01 before and after its rotation, and meter-09: three public forms of two nodes.
    expect(new Set(reference.filter((e) => EVENT_KIND[e.type] === 'node').map((e) => e.subject)).size).toBe(3);
    for (let k = 0; k < reference.length - 1; k++) {
      const tail = await publicOf({ from: reference[k]!.position }, reference.length - k - 1);
      expect(tail, `resumed after event ${k}`).toEqual(reference.slice(k + 1));
    }
  });

  it('keeps only the kinds and types asked for, pseudonymised as in the whole stream', async () => {
    const reference = await unbroken();
    const credentials = reference.filter((e) => EVENT_KIND[e.type] === 'credential');
    expect(await publicOf({ kinds: ['credential'] }, credentials.length)).toEqual(credentials);
    const established = reference.filter((e) => e.type === 'AssociationEstablished');
    expect(await publicOf({ types: ['AssociationEstablished'] }, established.length)).toEqual(established);
  });

  it('from now, delivers the live events as the unbroken stream has them', async () => {
    const live = collector(publicEvents$(c.store, deriver(), { from: 'end' }));
    const before = (await unbroken()).length;
    await c.engine.execute(cmd.issueCredential('cred-08', 'meter-09'));
    await c.engine.execute(cmd.provisionCredential('cred-08'));
    await live.until(2);
    live.subscription.unsubscribe();
    expect(live.values).toEqual((await unbroken()).slice(before));
  });

  it('pulls the next event only after onEvent settles', async () => {
    const reference = await unbroken();
    const seen: PublicEvent[] = [];
    const delivered: PublicEvent[] = [];
    let release: () => void = () => undefined;
    const stream = publicEvents$(c.store, deriver(), {}, {
      onEvent: (event) => {
        seen.push(event);
        return new Promise<void>((resolve) => (release = resolve));
      },
    }).subscribe((event) => delivered.push(event));
    await waitFor(() => seen.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect([seen.length, delivered.length]).toEqual([1, 0]);
    release();
    await waitFor(() => seen.length === 2);
    expect(delivered).toEqual([reference[0]]);
    stream.unsubscribe();
  });

  it('refuses canonical stream ids in the filter', () => {
    let error: unknown;
    try {
      publicEvents$(c.store, deriver(), { streams: ['node-meter-01'] } as PublicFilterInput);
    } catch (e) {
      error = e;
    }
    expect(isCredenceError(error, 'validation')).toBe(true);
    expect((error as Error).message).toContain('streams');
    expect((error as Error).message).not.toContain('meter-01');
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2_000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error('condition not reached');
}
