import { describe, expect, it } from 'vitest';
import { firstValueFrom, toArray } from 'rxjs';
import { command } from '../domain/commands/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { PseudonymDeriver, publicLifecycle, type PseudonymKey, type PublicEvent } from '../projections/pseudonyms/index.ts';
import { at, operator, placeholderKey, T0 } from './support/fleet.ts';

/*
 * Found in privacy review: the public stream published exact deadlines (a credential's notAfter, an association's
 * expiresAt, a rotation's overlapEndsAt) under a node's epoch-0 pseudonyms, and the expiry the scheduler emitted
 * within a tick of each named the same credential under the node's current epoch: the one event within a second of
 * a deadline linked the epochs. Times are now published to the UTC day, so a deadline points at the day's crowd.
 */

const key: PseudonymKey = { prf: async (m) => hmacSha256(new Uint8Array(32).fill(0x3c), m) };
const op = { actor: operator };
const SECOND = 1000;
const METERS = ['meter-01', 'meter-02', 'meter-03'] as const;
/** Three deadlines of each kind per day, at distinct instants of the same UTC day (T0 is a UTC midnight). */
const deadlines = (i: number) => ({
  notBefore: at(-0.989 + i * 0.1),
  notAfter: at(90.123 + i * 0.333),
  expiresAt: at(30.2 + i * 0.3),
  overlapEndsAt: at(9.1 + i * 0.3),
});
const ROTATIONS = 3;

const scenario = async (c: Credence, clock: FakeClock): Promise<void> => {
  const run = (type: Parameters<typeof command>[0], data: Record<string, unknown>) => c.engine.execute(command(type, data, op));
  const credential = async (credentialId: string, nodeId: string, validity: { notBefore: string; notAfter: string }, predecessorId?: string) => {
    await run('issueCredential', {
      credentialId, kind: 'ed25519', ...placeholderKey(credentialId), purpose: 'service', owner: { kind: 'node', id: nodeId },
      ...validity, ...(predecessorId !== undefined ? { predecessorId } : {}),
    });
    await run('provisionCredential', { credentialId, method: 'pre-provisioning' });
  };
  await run('createSubscription', { subscriptionId: 'city-09', subscriber: 'City of Nowhere 09', notBefore: T0, notAfter: at(365) });
  for (const [i, node] of METERS.entries()) {
    const d = deadlines(i);
    await run('registerNode', { nodeId: node, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'M-10', capabilities: ['metering'] } });
    await run('enrolNode', { nodeId: node, subscriptionId: 'city-09', cseId: `/${node}-cse` });
    await credential(`${node}-svc`, node, { notBefore: d.notBefore, notAfter: d.notAfter });
    await credential(`${node}-ops`, node, { notBefore: d.notBefore, notAfter: at(200) });
    await credential(`${node}-ops-2`, node, { notBefore: d.notBefore, notAfter: at(300) }, `${node}-ops`);
    await run('startCredentialRotation', { credentialId: `${node}-ops`, successorId: `${node}-ops-2`, overlapEndsAt: d.overlapEndsAt });
    await c.settle();
    await run('configureAssociation', {
      associationId: `${node}-sa`, nodeId: node, credentialId: `${node}-svc`, registree: { kind: 'cse', id: `/${node}-cse` }, registrarCseId: '/in-cse-09',
    });
    await c.settle();
    await run('establishAssociation', { associationId: `${node}-sa`, expiresAt: d.expiresAt });
  }
  await c.settle();
  for (let r = 0; r < ROTATIONS; r++) {
    for (const node of METERS) expect(await c.pseudonyms!.rotateNow(node, operator)).toMatchObject({ outcome: 'rotated' });
  }
  await c.settle();
  // The expiry tick comes within a second of each deadline, as the live scheduler's does.
  const instants = METERS.flatMap((_, i) => [deadlines(i).overlapEndsAt, deadlines(i).expiresAt, deadlines(i).notAfter]);
  for (const instant of instants.sort()) {
    clock.set(new Date(Date.parse(instant) + 400).toISOString());
    await c.tick();
  }
};

const open = async () => {
  const clock = new FakeClock(T0);
  const c = openCredence({ location: { memory: true }, clock, pseudonyms: { key, policy: {} } });
  await scenario(c, clock);
  const events = await firstValueFrom(publicLifecycle(c.store, new PseudonymDeriver(key), { live: false }).pipe(toArray()));
  return { c, events };
};

const ms = (instant: unknown): number => Date.parse(instant as string);
/** The published events of `type` whose published time is within a second of `instant`. */
const within = (events: readonly PublicEvent[], type: string, instant: unknown) =>
  events.filter((e) => e.type === type && Math.abs(ms(e.occurredAt) - ms(instant)) < SECOND);

describe('times in the public lifecycle stream', () => {
  it("do not single out, among a day's deadlines, the event a node's later epoch emits at its own", async () => {
    const { c, events } = await open();
    const deriver = new PseudonymDeriver(key);
    const firstEpoch = new Set<string>(await Promise.all(METERS.map((node) => deriver.node(node, 0))));
    const issued = events.filter((e) => e.type === 'CredentialIssued' && firstEpoch.has((e.data.owner as { id: string }).id));
    expect(issued).toHaveLength(3 * METERS.length);

    // The setup is the reviewer's: each expiry names its credential under the node's last epoch, not its first.
    const expired = events.filter((e) => e.type === 'CredentialExpired');
    const lastEpoch = await Promise.all(METERS.map((n) => deriver.identifier('credential', `${n}-svc`, ROTATIONS, n)));
    expect(new Set(expired.map((e) => e.subject))).toEqual(new Set(lastEpoch));

    const expiring = issued.filter((e) => ms(e.data.notAfter) < ms(at(100)));
    expect(expiring).toHaveLength(METERS.length);
    for (const e of expiring) expect(within(events, 'CredentialExpired', e.data.notAfter), `notAfter ${String(e.data.notAfter)}`).toHaveLength(METERS.length);

    const established = events.filter((e) => e.type === 'AssociationEstablished');
    expect(established).toHaveLength(METERS.length);
    for (const e of established) {
      expect(within(events, 'AssociationExpired', e.data.expiresAt), `expiresAt ${String(e.data.expiresAt)}`).toHaveLength(METERS.length);
    }

    const rotations = events.filter((e) => e.type === 'CredentialRotationStarted');
    expect(rotations).toHaveLength(METERS.length);
    for (const e of rotations) {
      const superseded = within(events, 'CredentialRevoked', e.data.overlapEndsAt).filter((r) => r.data.reason === 'superseded');
      expect(superseded, `overlapEndsAt ${String(e.data.overlapEndsAt)}`).toHaveLength(METERS.length);
    }

    // No later event, of any type, is within a second of an epoch-0 time unless the day's crowd is too.
    const published = [
      ...issued.flatMap((e) => [e.data.notBefore, e.data.notAfter]),
      ...established.map((e) => e.data.expiresAt),
      ...rotations.map((e) => e.data.overlapEndsAt),
    ];
    for (const instant of published) {
      const near = events.filter((e) => Math.abs(ms(e.occurredAt) - ms(instant)) < SECOND && !firstEpoch.has(e.subject));
      const types = new Set(near.map((e) => e.type));
      for (const type of types) expect(near.filter((e) => e.type === type).length, `${type} near ${String(instant)}`).toBeGreaterThanOrEqual(METERS.length);
    }
    await c.close();
  });

  it('are each the start of a UTC day, while the stored events, which the canonical stream sends, keep the exact times', async () => {
    const { c, events } = await open();
    const midnight = /^\d{4}-\d{2}-\d{2}T00:00:00\.000Z$/;
    const times = (e: PublicEvent): unknown[] => {
      const found: unknown[] = [e.occurredAt];
      const walk = (value: unknown): void => {
        if (value === null || typeof value !== 'object') return;
        for (const [k, v] of Object.entries(value)) {
          if (['notBefore', 'notAfter', 'expiresAt', 'overlapEndsAt'].includes(k)) found.push(v);
          else walk(v);
        }
      };
      walk(e.data);
      return found;
    };
    const seen = events.flatMap(times);
    expect(seen.length).toBeGreaterThan(events.length);
    for (const t of seen) expect(t).toMatch(midnight);
    expect(events.find((e) => e.type === 'AssociationEstablished')?.data.expiresAt).toBe('2026-01-31T00:00:00.000Z');
    expect(within(events, 'CredentialExpired', '2026-04-01T00:00:00.000Z')).toHaveLength(METERS.length);

    const stored = new Map<string, { data: Record<string, unknown>; occurredAt: string }[]>();
    for await (const r of c.store.readAll()) {
      const list = stored.get(r.type) ?? [];
      list.push({ data: r.data as Record<string, unknown>, occurredAt: (r.metadata as { occurredAt: string }).occurredAt });
      stored.set(r.type, list);
    }
    const { notBefore, notAfter } = deadlines(1);
    expect(stored.get('CredentialIssued')!.find((e) => e.data.credentialId === 'meter-02-svc')!.data).toMatchObject({ notBefore, notAfter });
    expect(stored.get('AssociationEstablished')!.map((e) => e.data.expiresAt)).toEqual(METERS.map((_, i) => deadlines(i).expiresAt));
    expect(stored.get('CredentialExpired')!.map((e) => e.occurredAt)).toEqual(METERS.map((_, i) => new Date(ms(deadlines(i).notAfter) + 400).toISOString()));
    await c.close();
  });
});
