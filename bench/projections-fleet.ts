import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { COMMAND_FOR_EVENT } from '../domain/commands/index.ts';
import type { EventType } from '../domain/events/index.ts';
import type { Actor } from '../domain/metadata.ts';
import { currentVersionOf } from '../domain/upcasters.ts';
import { DAY, SECOND } from '../adapters/driven/clock/index.ts';
import { derivedCommandId, eventIdFor } from '../domain/event-ids.ts';
import { toBase64url } from '../domain/crypto/base64url.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { ExpectedRevision, type EventStore, type EventToAppend } from '../domain/ports/event-store.ts';
import { PSEUDONYM_ACTOR, PseudonymDeriver, secureEnvironmentPseudonymKey } from '../projections/pseudonyms/index.ts';
import { PROCESS_MANAGER_ACTOR } from '../projections/cascade/index.ts';

/**
 * The data of the projections benchmark (bench/projections.ts): valid events appended straight to the store, with
 * the metadata and idempotency keys the engine writes (a reaction under its derived command id), and the pseudonym key in an embedded Secure Environment kept in the bench folder
 * (so each phase, a process of its own, derives the pseudonyms the seeded events hold).
 */

const OPERATOR: Actor = { id: 'operator:bench', role: 'operator' };
const SYSTEM: Actor = PROCESS_MANAGER_ACTOR;
const ROTATION: Actor = PSEUDONYM_ACTOR;
export const T0 = Date.parse('2026-01-01T00:00:00.000Z');
export const iso = (ms: number) => new Date(T0 + ms).toISOString();
const fp = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;

/** How a reaction's command is recorded: the derived id, the system actor, and its cause's correlation and id. */
interface Caused {
  readonly commandId: string;
  readonly actor: Actor;
  readonly correlationId: string;
  readonly causationId: string;
}

/** A stored event's id and correlation id: what a reaction to it carries. */
interface Written {
  readonly id: string;
  readonly correlationId: string;
}

/**
 * Appends valid events straight to the store, one command (one event) per append, with the metadata and the
 * idempotency key the engine writes: an operator's command under a fresh id, a reaction under the id its process
 * manager derives from the causing event (`reaction`), so a catch-up over this log meets the same duplicates it
 * would meet over a log the engine wrote.
 */
class Writer {
  written = 0;
  readonly #revisions = new Map<string, bigint>();
  constructor(private readonly store: EventStore) {}

  async append(stream: string, at: number, [type, data]: [EventType, Record<string, unknown>], by: Actor | Caused): Promise<Written> {
    const last = this.#revisions.get(stream);
    this.#revisions.set(stream, (last ?? -1n) + 1n);
    const own = 'role' in by ? eventIdFor(`bench:${stream}`, Number(last ?? -1n) + 1) : undefined;
    const cause: Caused = own !== undefined && 'role' in by ? { commandId: own, actor: by, correlationId: own, causationId: own } : (by as Caused);
    const event: EventToAppend = {
      id: eventIdFor(cause.commandId, 0),
      type,
      data: data as EventToAppend['data'],
      metadata: {
        schemaVersion: currentVersionOf(type), actor: cause.actor, commandId: cause.commandId, commandType: COMMAND_FOR_EVENT[type],
        correlationId: cause.correlationId, causationId: cause.causationId, occurredAt: iso(at),
      },
    };
    await this.store.appendToStream(stream, [event], { expectedRevision: ExpectedRevision.after(last), commandId: cause.commandId });
    this.written += 1;
    return { id: event.id, correlationId: cause.correlationId };
  }
}

/** The metadata the cascade (projections/cascade/issue.ts) or pseudonym rotation gives its command. */
const reaction = (actor: Actor, name: string, cause: Written): Caused => ({
  commandId: derivedCommandId(name, cause.id),
  actor,
  correlationId: cause.correlationId,
  causationId: cause.id,
});

/** The Secure Environment of the bench folder and pseudonym derivers over its key (made on first open). */
export const openBenchSecureEnvironment = async (dir: string) => {
  const kekFile = join(dir, 'se.kek');
  if (!existsSync(kekFile)) writeFileSync(kekFile, toBase64url(new Uint8Array(randomBytes(32))));
  const se = EmbeddedSecureEnvironment.open(
    { database: join(dir, 'se.db'), kek: { source: 'inline', key: readFileSync(kekFile, 'utf8') } },
    { now: () => new Date(), random: (length) => new Uint8Array(randomBytes(length)) },
  );
  const owner = 'credence:pseudonyms';
  const handleFile = join(dir, 'se.handle');
  if (!existsSync(handleFile)) writeFileSync(handleFile, await se.generate(owner, 'psk256'));
  const handle = readFileSync(handleFile, 'utf8') as KeyHandle;
  const key = secureEnvironmentPseudonymKey(se.forOwner(owner), handle);
  // `deriver` memoises as the service's does (open-credence.ts); `uncached` derives every call (the PRF's own rate).
  return { se, deriver: new PseudonymDeriver(key), uncached: new PseudonymDeriver(key, 0) };
};

/** Runs `seed(i)` for i = 0, 1, ... `lanes` at a time (each lane in order) until `enough()`. */
const inLanes = async (lanes: number, enough: () => boolean, seed: (i: number) => Promise<void>): Promise<void> => {
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (!enough()) await seed(next++);
    }),
  );
};

/**
 * A fleet whose reactions have all happened already, each recorded as the live reaction records it (derived
 * command id, system actor, the cause's correlation and id): register + the initial pseudonym, enrol, issue,
 * provision, configure, establish + the association bookkeeping, and every tenth node's association revoked
 * (+ its release) and then its credential revoked (whose cascade finds the association revoked already and
 * records nothing). Nodes are written 32 at a time (each node's steps in order), so the store commits them in groups.
 */
export const seedFleet = async (store: EventStore, deriver: PseudonymDeriver, minEvents: number): Promise<number> => {
  const w = new Writer(store);
  await w.append('subscription-bench-sub', 0, ['SubscriptionCreated', { subscriptionId: 'bench-sub', subscriber: 'bench', notBefore: iso(0), notAfter: iso(400 * DAY) }], OPERATOR);
  await inLanes(32, () => w.written >= minEvents, async (i) => {
    const t = i * 10 * SECOND;
    const nodeId = `meter-${i}`;
    const credentialId = `${nodeId}-svc`;
    const associationId = `${nodeId}-sa`;
    const [node, credential, association] = [`node-${nodeId}`, `credential-${credentialId}`, `association-${associationId}`];
    const pseudonym = await deriver.node(nodeId, 0);
    const registered = await w.append(node, t, ['NodeRegistered', { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: ['metering'] } }], OPERATOR);
    await w.append(`pseudonym-${pseudonym}`, t, ['PseudonymRotated', { pseudonym, nodeId, epoch: 0, trigger: 'initial' }], reaction(ROTATION, `pseudonym:initial:${nodeId}`, registered));
    await w.append(node, t + 1, ['NodeEnrolled', { nodeId, subscriptionId: 'bench-sub', cseId: `/${nodeId}` }], OPERATOR);
    await w.append(credential, t + 2, ['CredentialIssued', { credentialId, kind: 'ed25519', publicKey: 'A'.repeat(43), purpose: 'service', owner: { kind: 'node', id: nodeId }, fingerprint: fp(i), notBefore: iso(0), notAfter: iso(365 * DAY) }], OPERATOR);
    await w.append(credential, t + 2, ['CredentialProvisioned', { credentialId, method: 'pre-provisioning' }], OPERATOR);
    await w.append(association, t + 3, ['AssociationConfigured', { associationId, nodeId, credentialId, registree: { kind: 'cse', id: `/${nodeId}` }, registrarCseId: '/in-cse' }], OPERATOR);
    const established = await w.append(association, t + 3, ['AssociationEstablished', { associationId, expiresAt: iso(t + 30 * DAY) }], OPERATOR);
    await w.append(credential, t + 4, ['CredentialAssociated', { credentialId, associationId }], reaction(SYSTEM, `cascade:recordCredentialAssociation:${credentialId}`, established));
    await w.append(node, t + 4, ['NodeAssociated', { nodeId, associationId }], reaction(SYSTEM, `cascade:recordNodeAssociation:${nodeId}`, established));
    if (i % 10 === 0) {
      const revoked = await w.append(association, t + 5, ['AssociationRevoked', { associationId, reason: 'keyCompromise' }], OPERATOR);
      await w.append(credential, t + 6, ['CredentialAssociationReleased', { credentialId, associationId }], reaction(SYSTEM, `cascade:releaseCredentialAssociation:${credentialId}`, revoked));
      await w.append(node, t + 6, ['NodeAssociationReleased', { nodeId, associationId }], reaction(SYSTEM, `cascade:releaseNodeAssociation:${nodeId}`, revoked));
      await w.append(credential, t + 7, ['CredentialRevoked', { credentialId, reason: 'keyCompromise' }], OPERATOR);
    }
  });
  return w.written;
};

/** `nodes` registered nodes, each with its epoch-0 pseudonym (derived in one Secure Environment call per 4,096). */
export const seedNodes = async (store: EventStore, deriver: PseudonymDeriver, nodes: number): Promise<number> => {
  const w = new Writer(store);
  for (let from = 0; from < nodes; from += 4096) {
    const ids = Array.from({ length: Math.min(4096, nodes - from) }, (_, k) => `meter-${from + k}`);
    const pseudonyms = await deriver.nodes(ids.map((nodeId) => ({ nodeId, epoch: 0 })));
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let k = next++; k < ids.length; k = next++) {
          const nodeId = ids[k]!;
          const registered = await w.append(`node-${nodeId}`, 0, ['NodeRegistered', { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: [] } }], OPERATOR);
          const pseudonym = pseudonyms[k]!;
          await w.append(`pseudonym-${pseudonym}`, 0, ['PseudonymRotated', { pseudonym, nodeId, epoch: 0, trigger: 'initial' }], reaction(ROTATION, `pseudonym:initial:${nodeId}`, registered));
        }
      }),
    );
  }
  return w.written;
};
