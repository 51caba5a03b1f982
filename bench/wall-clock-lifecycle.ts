import type { CommandType } from '../domain/commands/index.ts';
import type { placeholderKey } from '../test/support/fleet.ts';

/**
 * The lifecycle mix of one node dated from the wall clock, for the benches that run the service's composition on the
 * system clock (a live runtime, an HTTP server): bench/workloads.ts dates its own from a fixed T0, whose associations
 * a wall clock past it would refuse as expired. One command per step, so an HTTP client can send them one by one.
 */
export const BENCH_SUBSCRIPTION = 'bench-sub';
const DAY = 86_400_000;
const fromNow = (days: number) => new Date(Date.now() + days * DAY).toISOString();

/** The key a step issues a credential on (a placeholder made before the clock starts: bench/keys-ahead.ts). */
export type KeyOf = (name: string) => ReturnType<typeof placeholderKey>;

/** One node's lifecycle (`n` makes every id distinct): register, enrol, issue, provision, configure and establish. */
export const WALL_CLOCK_STEPS: readonly ((n: string, keyOf: KeyOf) => [CommandType, Record<string, unknown>])[] = [
  (n) => ['registerNode', { nodeId: n, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: ['metering'] } }],
  (n) => ['enrolNode', { nodeId: n, subscriptionId: BENCH_SUBSCRIPTION, cseId: `/${n}` }],
  (n, keyOf) => ['issueCredential', { credentialId: `${n}-svc`, kind: 'ed25519', ...keyOf(`${n}-svc`), purpose: 'service', owner: { kind: 'node', id: n }, notBefore: fromNow(-1), notAfter: fromNow(365) }],
  (n) => ['provisionCredential', { credentialId: `${n}-svc`, method: 'pre-provisioning' }],
  (n) => ['configureAssociation', { associationId: `${n}-sa`, nodeId: n, credentialId: `${n}-svc`, registree: { kind: 'cse', id: `/${n}` }, registrarCseId: '/in-cse' }],
  (n) => ['establishAssociation', { associationId: `${n}-sa`, expiresAt: fromNow(30) }],
];

/** The subscription every node of WALL_CLOCK_STEPS enrols under. */
export const wallClockSubscription = (): Record<string, unknown> => ({ subscriptionId: BENCH_SUBSCRIPTION, subscriber: 'bench', notBefore: fromNow(-1), notAfter: fromNow(400) });
