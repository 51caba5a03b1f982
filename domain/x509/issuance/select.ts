import type { IssuingCa } from '../issuing-ca.ts';

/** The id of the deployment's CA, used for a node whose M2M Service Subscription has no CA of its own. */
export const DEFAULT_CA_ID = 'default';

/**
 * Which CA certifies a node (issue 13: one CA per deployment, optionally one per M2M Service Subscription): the CA
 * whose id is the node's M2M-Sub-ID, else the CA `default`, else none (its credentials get no certificate).
 */
export const issuingCaFor = (cas: readonly IssuingCa[], m2mSubId: string | undefined): IssuingCa | undefined =>
  (m2mSubId !== undefined ? cas.find((ca) => ca.id === m2mSubId) : undefined) ?? cas.find((ca) => ca.id === DEFAULT_CA_ID);
