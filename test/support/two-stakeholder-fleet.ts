import { firstValueFrom, toArray } from 'rxjs';
import { FakeClock, MINUTE } from '../../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../../adapters/runtime/index.ts';
import { command } from '../../domain/commands/index.ts';
import { hmacSha256 } from '../../domain/crypto/index.ts';
import type { DomainEvent } from '../../domain/events/index.ts';
import { decodeStored } from '../../domain/stored.ts';
import { publicLifecycle, type PseudonymKey, type PublicEvent, type PublicScope } from '../../projections/pseudonyms/index.ts';
import { at, cmd, operator, placeholderKey, T0 } from './fleet.ts';

export const twoStakeholderKey: PseudonymKey = { prf: async (m) => hmacSha256(new Uint8Array(32).fill(0x19), m) };

/** Rapp09's AE, whose credential two nodes of two subscriptions use (review 56). */
const BILLING_AE = { kind: 'ae', id: 'Cbilling', appId: 'Rapp09' } as const;

const run = (type: Parameters<typeof command>[0], data: Record<string, unknown>) => command(type, data, { actor: operator });

/**
 * Two stakeholders' fleets in one log (SER-025): subscription sub-01 (meter-01, and mover-08 until it moves) and
 * sub-09 (meter-09, and mover-08 after its move, RS-17), each node with a credential and an association; an
 * application Rapp01 with an AE instance on meter-01 (on meter-01's own credential). Then mover-08 gets a credential
 * under sub-09, Rapp09 is enrolled, and review 56's case: an AE credential `ae-cred` of Rapp09's (owner
 * ae:Cbilling@app:Rapp09), configured on meter-01 (`sa-01`, sub-01) then on meter-09 (`sa-09`, sub-09); sa-01 is
 * revoked, then ae-cred (its cascade ends sa-09). Then meter-09 is revoked (its credential and association end with it
 * in the cascade). Pseudonyms rotate on association, so resumes have epochs to get right.
 */
export const twoStakeholderFleet = async (): Promise<Credence> => {
  const clock = new FakeClock(T0);
  const c = openCredence({ location: { memory: true }, clock, pseudonyms: { key: twoStakeholderKey, policy: { default: { onAssociation: true } } } });
  const steps: unknown[] = [
    cmd.createSubscription('sub-01'),
    cmd.createSubscription('sub-09'),
    run('registerApplication', { appId: 'Rapp01', name: 'metering', provider: 'Acme' }),
    run('registerApplication', { appId: 'Rapp09', name: 'billing', provider: 'Other' }),
  ];
  for (const [node, sub] of [['meter-01', 'sub-01'], ['meter-09', 'sub-09'], ['mover-08', 'sub-01']] as const) {
    const cred = `${node}-cred`;
    steps.push(cmd.registerNode(node), cmd.enrolNode(node, sub), cmd.issueCredential(cred, node), cmd.provisionCredential(cred));
    steps.push(cmd.configureAssociation(`${node}-sa`, cred, node), cmd.establishAssociation(`${node}-sa`));
  }
  const enrolApplication = (appId: string, credentialId: string) => [
    run('issueCredential', {
      credentialId, kind: 'p256', ...placeholderKey(credentialId, 'p256'), purpose: 'application', owner: { kind: 'app', id: appId }, notBefore: T0, notAfter: at(300),
    }),
    run('provisionCredential', { credentialId, method: 'pre-provisioning' }),
    run('enrolApplication', { appId, credentialId }),
  ];
  steps.push(
    ...enrolApplication('Rapp01', 'app-cred-01'),
    run('configureAssociation', {
      associationId: 'meter-01-ae-sa', nodeId: 'meter-01', credentialId: 'meter-01-cred', registree: { kind: 'ae', id: 'Cmeter-01-ae', appId: 'Rapp01' }, registrarCseId: '/in-cse',
    }),
    run('establishAssociation', { associationId: 'meter-01-ae-sa', expiresAt: at(30) }),
    cmd.enrolNode('mover-08', 'sub-09'),
    cmd.issueCredential('mover-08-cred-2', 'mover-08'),
    ...enrolApplication('Rapp09', 'app-cred-09'),
    run('issueCredential', {
      credentialId: 'ae-cred', kind: 'ed25519', ...placeholderKey('ae-cred'), purpose: 'service', owner: BILLING_AE, notBefore: T0, notAfter: at(90),
    }),
    cmd.provisionCredential('ae-cred'),
    ...(['01', '09'] as const).flatMap((n) => [
      run('configureAssociation', { associationId: `sa-${n}`, nodeId: `meter-${n}`, credentialId: 'ae-cred', registree: BILLING_AE, registrarCseId: '/in-cse' }),
      run('establishAssociation', { associationId: `sa-${n}`, expiresAt: at(30) }),
    ]),
    cmd.revokeAssociation('sa-01', 'superseded'),
    cmd.revokeCredential('ae-cred', 'superseded'),
    run('revokeNode', { nodeId: 'meter-09', reason: 'keyCompromise' }),
  );
  for (const step of steps) {
    clock.advance(MINUTE);
    await c.engine.execute(step);
    await c.settle();
  }
  return c;
};

/** Each stored event by its position: what a public frame of that position stands for. */
export const canonicalByPosition = async (c: Credence): Promise<Map<bigint, DomainEvent>> => {
  const events = new Map<bigint, DomainEvent>();
  for await (const record of c.store.readAll()) {
    const decoded = decodeStored(record);
    if (decoded.ok) events.set(record.position, decoded.value.event);
  }
  return events;
};

/** The public history up to the head, with a scope or without. */
export const publicHistory = (c: Credence, scope?: PublicScope, afterPosition?: bigint): Promise<PublicEvent[]> =>
  firstValueFrom(
    publicLifecycle(c.store, c.pseudonyms!.deriver, { live: false, ...(scope !== undefined ? { scope } : {}), ...(afterPosition !== undefined ? { afterPosition } : {}) }).pipe(toArray()),
  );
