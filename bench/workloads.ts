import { command } from '../domain/commands/index.ts';
import { placeholderKey } from '../test/support/fleet.ts';
import type { Actor } from '../domain/metadata.ts';
import { DAY } from '../adapters/driven/clock/index.ts';

/** Commands shared by the command benchmarks: the lifecycle mix of one node, and a hub many callers share. */
export const OPERATOR: Actor = { id: 'operator:bench', role: 'operator' };
export const AUDITOR: Actor = { id: 'auditor:bench', role: 'auditor' };
export const T0 = Date.parse('2026-01-01T00:00:00.000Z');
export const iso = (days: number): string => new Date(T0 + days * DAY).toISOString();
export const fp = (i: number): string => `sha256:${i.toString(16).padStart(64, '0')}`;
type Step = [Parameters<typeof command>[0], Record<string, unknown>];

export const subscription = (subscriptionId = 'bench-sub') =>
  command('createSubscription', { subscriptionId, subscriber: 'bench', notBefore: iso(0), notAfter: iso(400) }, { actor: OPERATOR });

/** The lifecycle mix of one node (`<name>-<i>`): register, enrol, issue, provision, configure and establish; every tenth is revoked. */
export const lifecycle = (name: string, i: number) => {
  const nodeId = `${name}-${i}`;
  const credentialId = `${nodeId}-svc`;
  const associationId = `${nodeId}-sa`;
  const steps: Step[] = [
    ['registerNode', { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: ['metering'] } }],
    ['enrolNode', { nodeId, subscriptionId: 'bench-sub', cseId: `/${nodeId}` }],
    ['issueCredential', { credentialId, kind: 'ed25519', ...placeholderKey(credentialId), purpose: 'service', owner: { kind: 'node', id: nodeId }, notBefore: iso(0), notAfter: iso(365) }],
    ['provisionCredential', { credentialId, method: 'pre-provisioning' }],
    ['configureAssociation', { associationId, nodeId, credentialId, registree: { kind: 'cse', id: `/${nodeId}` }, registrarCseId: '/in-cse' }],
    ['establishAssociation', { associationId, expiresAt: iso(30) }],
  ];
  if (i % 10 === 0) {
    steps.push(['revokeAssociation', { associationId, reason: 'keyCompromise' }]);
    steps.push(['revokeCredential', { credentialId, reason: 'keyCompromise' }]);
  }
  return steps.map(([type, data]) => command(type, data, { actor: OPERATOR }));
};

/** A pseudonym value for hub `h` (p- and 26 base32 characters). */
const pseudonymOf = (h: number): string => {
  let letters = '';
  for (let n = h; ; n = Math.floor(n / 26)) {
    letters = String.fromCharCode(97 + (n % 26)) + letters;
    if (n < 26) break;
  }
  return `p-${letters.padStart(26, '2')}`;
};

/** A hub: a node with a provisioned credential and a pseudonym, which many associations and auditors then use. */
export const hubSetup = (h: number) => {
  const nodeId = `hub-${h}`;
  return [
    ...lifecycle('hub', h).slice(0, 4),
    command('rotatePseudonym', { pseudonym: pseudonymOf(h), nodeId, epoch: 1, trigger: 'initial' }, { actor: OPERATOR }),
  ];
};

/**
 * One round of a caller on hub `h`: a new association on the hub's credential and node (both read as facts by the
 * two commands) and an auditor's resolution of the hub's pseudonym (the same stream for every caller on the hub).
 */
export const hubRound = (h: number, caller: number, round: number) => {
  const nodeId = `hub-${h}`;
  const associationId = `hub-${h}-sa-${caller}-${round}`;
  return [
    command('configureAssociation', { associationId, nodeId, credentialId: `${nodeId}-svc`, registree: { kind: 'cse', id: `/${nodeId}` }, registrarCseId: '/in-cse' }, { actor: OPERATOR }),
    command('establishAssociation', { associationId, expiresAt: iso(30) }, { actor: OPERATOR }),
    command('resolvePseudonym', { pseudonym: pseudonymOf(h), reason: `bench audit ${caller}-${round}` }, { actor: AUDITOR }),
  ];
};
