import { protocolFailure } from '../../protocols/protocol.ts';
import type { M2MSubId } from '../../ids.ts';
import type { CaId, IssuingCa } from '../issuing-ca.ts';

/** The id of the deployment's CA, used for a node whose M2M Service Subscription has no CA of its own. */
export const DEFAULT_CA_ID = 'default';

/**
 * An issuing CA as the service loaded it, with the M2M Service Subscription whose nodes it certifies when it names one
 * (`credence ca init --subscription`, review 355: an M2M-Sub-ID may hold upper case, . _ : ~ and 128 characters, which
 * no CA id can); else it certifies that of its id (`subscriptionCertifiedBy`).
 */
export type SubscriptionCa = IssuingCa & { readonly subscription?: M2MSubId | undefined };

/**
 * The issuing CAs a service loaded (loadIssuingCas): the active ones, and the ids of those awaiting their certificate
 * (`credence ca init --intermediate`, before `credence ca install`), which certify nothing yet, with the subscription
 * each of those names (`awaitingSubscriptions`; one absent there certifies the subscription of its id). A list without
 * `awaitingCertificate` has none waiting.
 */
export type IssuingCas = readonly SubscriptionCa[] & {
  readonly awaitingCertificate?: readonly CaId[];
  readonly awaitingSubscriptions?: ReadonlyMap<CaId, string>;
};

/**
 * The M2M Service Subscription whose nodes CA `ca` certifies: the one it names, else the one spelt as its id (every CA
 * made before CAs named one, review 355). `default` names none: it certifies the nodes no other CA does.
 */
export const subscriptionCertifiedBy = (ca: { readonly id: CaId; readonly subscription?: string | undefined }): string | undefined =>
  ca.subscription ?? (ca.id === DEFAULT_CA_ID ? undefined : ca.id);

/** The command that ends the wait of CA `id`, as `ca init --intermediate` said it. */
const installCommand = (id: CaId): string => `credence ca install --id ${id} --certificate FILE --chain FILE`;

/**
 * What the service says at start of a CA awaiting its certificate: what it does meanwhile, and how to end it. A
 * subscription's CA: its nodes are refused (issuingCaFor); `default`: nodes with no CA of their own are provisioned
 * without a certificate, as with no CA at all. `subscription`: the one it certifies when it names one (review 355).
 */
export const caAwaitingCertificateWarning = (id: CaId, subscription: string = id): string =>
  `CA ${id} awaits its certificate (credence ca init --intermediate): it certifies nothing yet` +
  (id === DEFAULT_CA_ID
    ? ', and a node whose M2M Service Subscription has no CA of its own is provisioned without a certificate'
    : `, and remote provisioning of an Ed25519 or P-256 credential for a node of M2M Service Subscription ${subscription} that sends a CSR (any, where a CSR is required) is refused (certificate_not_issued), never certified by CA ${DEFAULT_CA_ID} instead`) +
  `; once its root has signed it: ${installCommand(id)}`;

/**
 * Which CA certifies a node (issue 13: one CA per deployment, optionally one per M2M Service Subscription): the CA
 * that certifies the node's M2M-Sub-ID (`subscriptionCertifiedBy`: the one it names, else its id; review 355: a
 * subscription no CA id can spell was certified by `default`), else the CA `default`, else none (its credentials get
 * no certificate). At most one CA certifies a subscription: loadIssuingCas refuses two.
 *
 * A subscription whose CA awaits its certificate is refused, never given `default` (review 287: its nodes got
 * certificates of `default`, which its relying parties, trusting its own root, refuse and every relying party of
 * `default` accepts): a `protocol` refusal of the provisioning auth step, where the Enrolment Function asks
 * (CertificateIssuance.issuingCa, certificate-issuance.ts), before anything is signed or recorded.
 */
export const issuingCaFor = (cas: IssuingCas, m2mSubId: string | undefined): SubscriptionCa | undefined => {
  if (m2mSubId !== undefined) {
    const own = cas.find((ca) => subscriptionCertifiedBy(ca) === m2mSubId);
    if (own !== undefined) return own;
    const waiting = cas.awaitingCertificate?.find((id) => subscriptionCertifiedBy({ id, subscription: cas.awaitingSubscriptions?.get(id) }) === m2mSubId);
    if (waiting !== undefined) {
      throw protocolFailure(
        'provisioning.auth',
        'certificate_not_issued',
        `subscription_ca_not_installed: CA ${waiting} of M2M Service Subscription ${m2mSubId} awaits its certificate and certifies no node yet; install it: ${installCommand(waiting)}`,
      );
    }
  }
  return cas.find((ca) => ca.id === DEFAULT_CA_ID);
};
