import { validationError } from '../../../domain/errors.ts';
import { subscriptionCertifiedBy } from '../../../domain/x509/issuance/index.ts';
import type { CaId } from '../../../domain/x509/issuing-ca.ts';
import { caIds, PKI_DIR, readCaFile, type CaFile } from './ca-file.ts';

/*
 * One CA per M2M Service Subscription (review 355): with two, which certified a node would depend on the order the
 * files were read in, and the relying parties of one would refuse the certificates of the other. A CA certifies the
 * subscription it names, else the one spelt as its id (subscriptionCertifiedBy), so a CA naming `sub-b` clashes with
 * a CA whose id is `sub-b` too.
 */

/**
 * Refuses CA `id` certifying `subscription` (the one it names, or undefined to certify that of its id) when another CA
 * of the folder certifies it already: a `validation` error, path `subscription`, naming that CA. Before any key is made.
 */
export const assertSubscriptionUnclaimed = (dataDir: string, id: CaId, subscription: string | undefined): void => {
  const certified = subscriptionCertifiedBy({ id, subscription });
  if (certified === undefined) return;
  const other = caIds(dataDir).find((other) => {
    const file = other !== id ? readCaFile(dataDir, other) : undefined;
    return file !== undefined && subscriptionCertifiedBy(file) === certified;
  });
  if (other === undefined) return;
  throw validationError(
    [
      {
        path: 'subscription',
        rule: 'one_ca_per_subscription',
        message: `CA ${other} already certifies M2M Service Subscription ${certified} (${PKI_DIR}/${other}.ca.json): one CA per subscription; keep it, or choose another --subscription`,
      },
    ],
    'issuing CA',
  );
};

/**
 * Refuses, at load, two CA files certifying one subscription (one edited by hand, or copied from another folder),
 * naming both; `files` as read from the folder.
 */
export const assertOneCaPerSubscription = (files: readonly CaFile[]): void => {
  const seen = new Map<string, CaId>();
  for (const file of files) {
    const certified = subscriptionCertifiedBy(file);
    if (certified === undefined) continue;
    const first = seen.get(certified);
    if (first !== undefined) {
      throw validationError(
        [
          {
            path: `${PKI_DIR}/${first}.ca.json, ${PKI_DIR}/${file.id}.ca.json`,
            rule: 'one_ca_per_subscription',
            message: `CAs ${first} and ${file.id} both certify M2M Service Subscription ${certified}: one CA per subscription; correct the subscription of the one that does not certify it`,
          },
        ],
        'issuing CA file',
      );
    }
    seen.set(certified, file.id);
  }
};
