/**
 * A legitimate command of every type in the catalog (domain/commands/catalog.ts), aimed at a small pool of ids that
 * overlaps the prepared fleet (test/support/fleet.ts `establishOne`: sub-1, meter-1, cred-1, sa-1): some are legal
 * in their state, many are valid in shape and illegal in state (a second registration, a provisioning of an unknown
 * credential, a system command sent from outside). The fuzzer mutates these.
 */
import fc from 'fast-check';
import { COMMAND_CATALOG, COMMAND_TYPES, type CommandType } from '../../domain/commands/index.ts';
import { SYSTEM_ACTOR_IDS, type Actor } from '../../domain/metadata.ts';
import { at, auditor, fingerprint, operator, placeholderKey, profile, system } from '../support/fleet.ts';

/** Fixed command ids: drawn often enough that one id is reused within a run, for another command or another actor. */
export const COMMAND_ID_POOL = ['3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f', '0b9f1e3a-3c1d-4f6e-9a57-1c2d3e4f5a6b', '7d1f2e3c-4b5a-4968-8776-655443322110'];

const SUBSCRIPTIONS = ['sub-1', 'sub-2'];
const NODES = ['meter-1', 'meter-2'];
const CREDENTIALS = ['cred-1', 'cred-2', 'cred-3'];
const ASSOCIATIONS = ['sa-1', 'sa-2'];
const APPS = ['Rapp-1', 'Napp-2'];
const PSEUDONYMS = [`p-${'a'.repeat(26)}`, `p-${'b'.repeat(26)}`];
const REASONS = ['keyCompromise', 'superseded', 'cessationOfOperation', 'unspecified'] as const;

const one = <T>(items: readonly T[]) => fc.constantFrom(...items);
const day = fc.integer({ min: -30, max: 400 }).map(at);

/** An asymmetric credential's public key and the fingerprint it must carry; a PSK's fingerprint is any keyed hash. */
const keyFor = (kind: string, n: number): Record<string, unknown> =>
  kind === 'ed25519' || kind === 'p256' ? { ...placeholderKey(`fuzz-${n}`, kind) } : { fingerprint: fingerprint(n + 1) };

const issue = fc
  .record({ credentialId: one(CREDENTIALS), kind: one(['ed25519', 'p256', 'psk256']), node: one(NODES), app: one(APPS), forApp: fc.boolean(), n: fc.nat(50), notAfter: day })
  .map(({ credentialId, kind, node, app, forApp, n, notAfter }) => ({
    credentialId,
    kind,
    purpose: forApp ? 'application' : 'service',
    owner: forApp ? { kind: 'app', id: app } : { kind: 'node', id: node },
    ...keyFor(kind, n),
    notBefore: at(0),
    notAfter,
  }));

/** The data of a legitimate command of each type. */
const DATA: Record<CommandType, fc.Arbitrary<Record<string, unknown>>> = {
  createSubscription: fc.record({ subscriptionId: one(SUBSCRIPTIONS), subscriber: fc.constant('City Utilities'), notBefore: fc.constant(at(0)), notAfter: day }),
  expireSubscription: fc.record({ subscriptionId: one(SUBSCRIPTIONS) }),
  terminateSubscription: fc.record({ subscriptionId: one(SUBSCRIPTIONS), reason: fc.constant('contract ended') }),
  registerNode: fc.record({ nodeId: one(NODES), profile: fc.constant(profile) }, { requiredKeys: ['nodeId', 'profile'] }),
  enrolNode: fc.record({ nodeId: one(NODES), subscriptionId: one(SUBSCRIPTIONS) }).map((d) => ({ ...d, cseId: `/cse-${d.nodeId}` })),
  recordNodeAssociation: fc.record({ nodeId: one(NODES), associationId: one(ASSOCIATIONS) }),
  releaseNodeAssociation: fc.record({ nodeId: one(NODES), associationId: one(ASSOCIATIONS) }),
  expireNodeEnrolment: fc.record({ nodeId: one(NODES), subscriptionId: one(SUBSCRIPTIONS) }),
  revokeNode: fc.record({ nodeId: one(NODES), reason: one(REASONS) }),
  issueCredential: issue,
  provisionCredential: fc.record({ credentialId: one(CREDENTIALS), method: fc.constant('pre-provisioning') }),
  recordCredentialAssociation: fc.record({ credentialId: one(CREDENTIALS), associationId: one(ASSOCIATIONS) }),
  releaseCredentialAssociation: fc.record({ credentialId: one(CREDENTIALS), associationId: one(ASSOCIATIONS) }),
  startCredentialRotation: fc.record({ credentialId: one(CREDENTIALS), successorId: one(CREDENTIALS), overlapEndsAt: day }),
  abandonCredentialRotation: fc.record({ credentialId: one(CREDENTIALS), successorId: one(CREDENTIALS) }),
  expireCredential: fc.record({ credentialId: one(CREDENTIALS) }),
  revokeCredential: fc.record({ credentialId: one(CREDENTIALS), reason: one(REASONS) }),
  registerApplication: fc.record({ appId: one(APPS), name: fc.constant('Metering'), provider: fc.constant('Acme') }),
  enrolApplication: fc
    .record({ appId: one(APPS), credentialId: one(CREDENTIALS), replaces: fc.option(one(CREDENTIALS), { nil: undefined }) })
    .map(({ replaces, ...d }) => (replaces === undefined ? d : { ...d, replaces })),
  recordApplicationInstance: fc.record({ appId: one(APPS), aeId: fc.constant('Cae-1'), associationId: one(ASSOCIATIONS) }),
  releaseApplicationInstance: fc.record({ appId: one(APPS), associationId: one(ASSOCIATIONS) }),
  endApplicationEnrolment: fc.record({ appId: one(APPS), credentialId: one(CREDENTIALS), reason: one(REASONS) }),
  revokeApplication: fc.record({ appId: one(APPS), reason: one(['keyCompromise', 'privilegeWithdrawn'] as const) }),
  configureAssociation: fc
    .record({ associationId: one(ASSOCIATIONS), nodeId: one(NODES), credentialId: one(CREDENTIALS), ae: fc.boolean(), appId: one(APPS) })
    .map(({ ae, appId, ...d }) => ({ ...d, registree: ae ? { kind: 'ae', id: 'Cae-1', appId } : { kind: 'cse', id: `/cse-${d.nodeId}` }, registrarCseId: '/in-cse' })),
  establishAssociation: fc.record({ associationId: one(ASSOCIATIONS), expiresAt: day }),
  expireAssociation: fc.record({ associationId: one(ASSOCIATIONS) }),
  revokeAssociation: fc.record({ associationId: one(ASSOCIATIONS), reason: one(REASONS) }),
  rotatePseudonym: fc.record({ pseudonym: one(PSEUDONYMS), nodeId: one(NODES), epoch: fc.nat(5), trigger: one(['initial', 'interval', 'demand'] as const) }),
  resolvePseudonym: fc.record({ pseudonym: one(PSEUDONYMS), reason: fc.constant('court order 17') }),
};

/** The actor the catalog expects for a command type, and whether it arrives through executeAsSystem. */
const senderOf = (type: CommandType): { actor: Actor; asSystem: boolean } => {
  const roles: readonly string[] = COMMAND_CATALOG[type].roles;
  if (roles.includes('operator')) return { actor: operator, asSystem: false };
  if (roles.includes('auditor')) return { actor: auditor, asSystem: false };
  return { actor: system, asSystem: true };
};

export interface CommandInput {
  readonly input: unknown;
  /** Through executeAsSystem (in-process system actors) rather than execute (input from outside). */
  readonly asSystem: boolean;
}

/** A legitimate command of any type: its own actor, and a command id that is absent, fresh or one of the pool. */
export const legitimateCommand: fc.Arbitrary<CommandInput> = fc
  .record({
    type: fc.constantFrom(...COMMAND_TYPES),
    commandId: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: one(COMMAND_ID_POOL) }, { weight: 1, arbitrary: fc.uuid({ version: 4 }) }),
    correlationId: fc.option(fc.constantFrom('incident-42', 'ticket-7'), { nil: undefined }),
  })
  .chain(({ type, commandId, correlationId }) =>
    DATA[type].map((data): CommandInput => {
      const { actor, asSystem } = senderOf(type);
      const metadata = { actor, ...(commandId !== undefined ? { commandId } : {}), ...(correlationId !== undefined ? { correlationId } : {}) };
      return { input: { type, data, metadata }, asSystem };
    }),
  );

/** Actors that claim what they are not, or are not actors at all. */
export const hostileActor: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    { id: SYSTEM_ACTOR_IDS[0], role: 'system' },
    { id: 'mallory', role: 'system' },
    { id: SYSTEM_ACTOR_IDS[0], role: 'operator' },
    { id: 'System:Process-Manager', role: 'operator' },
    { id: '  system:x', role: 'operator' },
    { id: '\u00a0system:x', role: 'auditor' },
    { id: '\ufeffSYSTEM:x', role: 'operator' },
    { id: '\nsystem:', role: 'operator' },
    { id: SYSTEM_ACTOR_IDS[1], role: 'auditor' },
    { id: 'operator:alice', role: 'admin' },
    { id: 'operator:alice', role: 'SYSTEM' },
    { id: 'operator:alice', role: ['operator'] },
    { id: 'operator:alice' },
    { role: 'operator' },
    { id: '', role: 'operator' },
    { id: 'x'.repeat(201), role: 'operator' },
    { id: 'integrator:carol', role: 'integrator' },
    auditor,
    operator,
    system,
  ),
  fc.record({ id: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('system:', 'System:', 'sYsTeM:evil')), role: fc.constantFrom('operator', 'auditor', 'integrator', 'system') }),
);
