import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { COMMAND_FOR_EVENT } from '../domain/commands/index.ts';
import type { EventType } from '../domain/events/index.ts';
import type { Actor } from '../domain/metadata.ts';
import { currentVersionOf } from '../domain/upcasters.ts';
import { DAY, SECOND } from '../adapters/driven/clock/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { toBase64url } from '../domain/crypto/base64url.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { ExpectedRevision, type EventStore, type EventToAppend } from '../domain/ports/event-store.ts';
import { PseudonymDeriver, secureEnvironmentPseudonymKey } from '../projections/pseudonyms/index.ts';

/**
 * The data of the projections benchmark (bench/projections.ts): valid events appended straight to the store, with
 * the metadata the engine writes, and the pseudonym key in an embedded Secure Environment kept in the bench folder
 * (so each phase, a process of its own, derives the pseudonyms the seeded events hold).
 */

const OPERATOR: Actor = { id: 'operator:bench', role: 'operator' };
const SYSTEM: Actor = { id: 'system:process-manager', role: 'system' };
const ROTATION: Actor = { id: 'system:pseudonym-rotation', role: 'system' };
export const T0 = Date.parse('2026-01-01T00:00:00.000Z');
export const iso = (ms: number) => new Date(T0 + ms).toISOString();
const fp = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;

/** Appends valid events straight to the store, one append per stream step, metadata as the engine writes it. */
class Writer {
  written = 0;
  readonly #revisions = new Map<string, bigint>();
  constructor(private readonly store: EventStore) {}

  async append(stream: string, actor: Actor, at: number, events: [EventType, Record<string, unknown>][]): Promise<void> {
    const last = this.#revisions.get(stream);
    this.#revisions.set(stream, (last ?? -1n) + BigInt(events.length));
    const commandId = eventIdFor(`bench:${stream}`, Number(last ?? -1n) + 1);
    const batch: EventToAppend[] = events.map(([type, data], k) => ({
      id: eventIdFor(commandId, k),
      type,
      data: data as EventToAppend['data'],
      metadata: {
        schemaVersion: currentVersionOf(type), actor, commandId, commandType: COMMAND_FOR_EVENT[type],
        correlationId: commandId, causationId: commandId, occurredAt: iso(at),
      },
    }));
    await this.store.appendToStream(stream, batch, { expectedRevision: ExpectedRevision.after(last) });
    this.written += batch.length;
  }
}

/** The Secure Environment of the bench folder and the pseudonym deriver over its key (made on first open). */
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
  return { se, deriver: new PseudonymDeriver(secureEnvironmentPseudonymKey(se.forOwner(owner), handle), 0) };
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
 * A fleet whose reactions have all happened already: register + initial pseudonym, enrol, provision, associate
 * with the bookkeeping, and every tenth node's credential compromised with its association revoked and released.
 * Nodes are written 32 at a time (each node's steps in order), so the store commits them in groups.
 */
export const seedFleet = async (store: EventStore, deriver: PseudonymDeriver, minEvents: number): Promise<number> => {
  const w = new Writer(store);
  await w.append('subscription-bench-sub', OPERATOR, 0, [['SubscriptionCreated', { subscriptionId: 'bench-sub', subscriber: 'bench', notBefore: iso(0), notAfter: iso(400 * DAY) }]]);
  await inLanes(32, () => w.written >= minEvents, async (i) => {
    const t = i * 10 * SECOND;
    const nodeId = `meter-${i}`;
    const credentialId = `${nodeId}-svc`;
    const associationId = `${nodeId}-sa`;
    const pseudonym = await deriver.node(nodeId, 0);
    await w.append(`node-${nodeId}`, OPERATOR, t, [
      ['NodeRegistered', { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: ['metering'] } }],
    ]);
    await w.append(`pseudonym-${pseudonym}`, ROTATION, t, [['PseudonymRotated', { pseudonym, nodeId, epoch: 0, trigger: 'initial' }]]);
    await w.append(`node-${nodeId}`, OPERATOR, t + 1, [['NodeEnrolled', { nodeId, subscriptionId: 'bench-sub', cseId: `/${nodeId}` }]]);
    await w.append(`credential-${credentialId}`, OPERATOR, t + 2, [
      ['CredentialIssued', { credentialId, kind: 'ed25519', publicKey: 'A'.repeat(43), purpose: 'service', owner: { kind: 'node', id: nodeId }, fingerprint: fp(i), notBefore: iso(0), notAfter: iso(365 * DAY) }],
      ['CredentialProvisioned', { credentialId, method: 'pre-provisioning' }],
    ]);
    await w.append(`association-${associationId}`, OPERATOR, t + 3, [
      ['AssociationConfigured', { associationId, nodeId, credentialId, registree: { kind: 'cse', id: `/${nodeId}` }, registrarCseId: '/in-cse' }],
      ['AssociationEstablished', { associationId, expiresAt: iso(t + 30 * DAY) }],
    ]);
    await w.append(`credential-${credentialId}`, SYSTEM, t + 4, [['CredentialAssociated', { credentialId, associationId }]]);
    await w.append(`node-${nodeId}`, SYSTEM, t + 4, [['NodeAssociated', { nodeId, associationId }]]);
    if (i % 10 === 0) {
      await w.append(`association-${associationId}`, OPERATOR, t + 5, [['AssociationRevoked', { associationId, reason: 'keyCompromise' }]]);
      await w.append(`credential-${credentialId}`, SYSTEM, t + 6, [['CredentialAssociationReleased', { credentialId, associationId }]]);
      await w.append(`node-${nodeId}`, SYSTEM, t + 6, [['NodeAssociationReleased', { nodeId, associationId }]]);
      await w.append(`credential-${credentialId}`, OPERATOR, t + 7, [['CredentialRevoked', { credentialId, reason: 'keyCompromise' }]]);
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
          await w.append(`node-${nodeId}`, OPERATOR, 0, [['NodeRegistered', { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: [] } }]]);
          await w.append(`pseudonym-${pseudonyms[k]!}`, ROTATION, 0, [['PseudonymRotated', { pseudonym: pseudonyms[k]!, nodeId, epoch: 0, trigger: 'initial' }]]);
        }
      }),
    );
  }
  return w.written;
};
