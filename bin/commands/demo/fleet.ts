import type { CredentialKind } from '../../../domain/crypto/credential.ts';
import type { NodeProfile } from '../device/factory.ts';

/** The demo's M2M Service Subscription: every node of the fleet is enrolled under it. */
export const SUBSCRIPTION = { subscriptionId: 'city-utilities', subscriber: 'City Utilities' } as const;

export interface FleetNode {
  readonly nodeId: string;
  /** Generated in the device's own Secure Environment at the factory (never a PSK: see below). */
  readonly bootstrap: Exclude<CredentialKind, 'psk256'>;
  /** Provisioned remotely through the Enrolment Function: a key pair made in the device, or a PSK delivered encrypted. */
  readonly service: CredentialKind;
  readonly profile: NodeProfile;
}

const meter = (model: string): NodeProfile => ({ class: 'smart-meter', manufacturer: 'Acme Metering', model, capabilities: ['metering'] });

/**
 * A gateway and four smart meters, every protocol mode between them. meter-4 was the old demo's factory-PSK
 * meter: a PSK bootstrap has to be placed in the device and at the Enrolment Function at once (pre-provisioning,
 * seed 003 11.2.1 scenario 1), which needs a Secure Environment both share, and over HTTP they share none; so its
 * bootstrap is an ed25519 key and its PSK is the service credential, delivered encrypted by remote provisioning.
 */
export const FLEET: readonly FleetNode[] = [
  { nodeId: 'gateway-1', bootstrap: 'p256', service: 'p256', profile: { class: 'gateway', manufacturer: 'Acme Metering', model: 'GW-200', capabilities: ['mn-cse'] } },
  { nodeId: 'meter-1', bootstrap: 'ed25519', service: 'ed25519', profile: meter('SM-10') },
  { nodeId: 'meter-2', bootstrap: 'ed25519', service: 'ed25519', profile: meter('SM-10') },
  { nodeId: 'meter-3', bootstrap: 'ed25519', service: 'p256', profile: meter('SM-10') },
  { nodeId: 'meter-4', bootstrap: 'ed25519', service: 'psk256', profile: meter('SM-2') },
];

/** The ids the scenario gives each node's credentials and associations. */
export const ids = (nodeId: string) => ({
  bootstrap: `${nodeId}-bootstrap`,
  service: `${nodeId}-service`,
  successor: `${nodeId}-service-r1`,
  association: `${nodeId}-sa`,
  successorAssociation: `${nodeId}-sa-r1`,
});

/** The compromised meter and the rotating one. */
export const COMPROMISED = 'meter-3';
export const ROTATING = 'meter-1';

/** Long enough to see the two credentials live side by side, short enough to watch it end on the wall clock. */
export const ROTATION_OVERLAP_SECONDS = 4;
export const BOOTSTRAP_VALIDITY_SECONDS = 5 * 365 * 86_400;
export const ASSOCIATION_LIFETIME_SECONDS = 90 * 86_400;
