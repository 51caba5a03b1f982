import { protocolFailure } from '../../protocols/protocol.ts';
import type { CaId, IssuingCa } from '../issuing-ca.ts';

/** The id of the deployment's CA, used for a node whose M2M Service Subscription has no CA of its own. */
export const DEFAULT_CA_ID = 'default';

/**
 * The issuing CAs a service loaded (loadIssuingCas): the active ones, and the ids of those awaiting their certificate
 * (`credence ca init --intermediate`, before `credence ca install`), which certify nothing yet. A list without
 * `awaitingCertificate` has none waiting.
 */
export type IssuingCas = readonly IssuingCa[] & { readonly awaitingCertificate?: readonly CaId[] };

/** The command that ends the wait of CA `id`, as `ca init --intermediate` said it. */
const installCommand = (id: CaId): string => `credence ca install --id ${id} --certificate FILE --chain FILE`;

/**
 * What the service says at start of a CA awaiting its certificate: what it does meanwhile, and how to end it. A
 * subscription's CA: its nodes are refused (issuingCaFor); `default`: nodes with no CA of their own are provisioned
 * without a certificate, as with no CA at all.
 */
export const caAwaitingCertificateWarning = (id: CaId): string =>
  `CA ${id} awaits its certificate (credence ca init --intermediate): it certifies nothing yet` +
  (id === DEFAULT_CA_ID
    ? ', and a node whose M2M Service Subscription has no CA of its own is provisioned without a certificate'
    : `, and remote provisioning of an Ed25519 or P-256 credential for a node of M2M Service Subscription ${id} that sends a CSR (any, where a CSR is required) is refused (certificate_not_issued), never certified by CA ${DEFAULT_CA_ID} instead`) +
  `; once its root has signed it: ${installCommand(id)}`;

/**
 * Which CA certifies a node (issue 13: one CA per deployment, optionally one per M2M Service Subscription): the CA
 * whose id is the node's M2M-Sub-ID, else the CA `default`, else none (its credentials get no certificate).
 *
 * A subscription whose CA awaits its certificate is refused, never given `default` (review 287: its nodes got
 * certificates of `default`, which its relying parties, trusting its own root, refuse and every relying party of
 * `default` accepts): a `protocol` refusal of the provisioning auth step, where the Enrolment Function asks
 * (CertificateIssuance.issuingCa, certificate-issuance.ts), before anything is signed or recorded.
 */
export const issuingCaFor = (cas: IssuingCas, m2mSubId: string | undefined): IssuingCa | undefined => {
  if (m2mSubId !== undefined) {
    const own = cas.find((ca) => ca.id === m2mSubId);
    if (own !== undefined) return own;
    if (cas.awaitingCertificate?.includes(m2mSubId) === true) {
      throw protocolFailure(
        'provisioning.auth',
        'certificate_not_issued',
        `subscription_ca_not_installed: CA ${m2mSubId} of M2M Service Subscription ${m2mSubId} awaits its certificate and certifies no node yet; install it: ${installCommand(m2mSubId)}`,
      );
    }
  }
  return cas.find((ca) => ca.id === DEFAULT_CA_ID);
};
