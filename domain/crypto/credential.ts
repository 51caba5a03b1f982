import { z } from 'zod';
import { base64urlString, tryFromBase64urlOfLength } from './base64url.ts';
import { Fingerprint, publicKeyFingerprint } from './fingerprint.ts';
import { checkPublicKey } from './public-key.ts';
import { MAX_CERTIFICATE_LENGTH } from './sizes.ts';

/**
 * The public description of a credential, safe to store in events: what kind it is, how to recognise it,
 * when it is valid, whom it is bound to (RS-01), and the X.509 certificate when one exists (SER-SWIR-04).
 * Never a secret: objects are strict, so an unexpected field (a key, say) makes parsing fail.
 */
export const CredentialKind = z.enum(['psk256', 'ed25519', 'p256']);
export type CredentialKind = z.infer<typeof CredentialKind>;

export const IsoTimestamp = z.iso.datetime({ offset: false, precision: 3 });

export const Identifier = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

/** Who the credential belongs to: a node, a CSE, an AE, or an application (App-ID, seed 003 clause 11.2.2). */
export const OwnerBinding = z.strictObject({ kind: z.enum(['node', 'cse', 'ae', 'app']), id: Identifier });
export type OwnerBinding = z.infer<typeof OwnerBinding>;

export const Validity = z
  .strictObject({ notBefore: IsoTimestamp, notAfter: IsoTimestamp })
  .refine((v) => Date.parse(v.notBefore) < Date.parse(v.notAfter), {
    message: 'notBefore must be earlier than notAfter',
    path: ['notAfter'],
  });
export type Validity = z.infer<typeof Validity>;

const common = { fingerprint: Fingerprint, validity: Validity, owner: OwnerBinding };

const SymmetricDescriptor = z.strictObject({ kind: z.literal('psk256'), ...common });

const asymmetric = <K extends 'ed25519' | 'p256'>(kind: K, publicKeyBytes: number) =>
  z
    .strictObject({
      kind: z.literal(kind),
      ...common,
      publicKey: base64urlString(publicKeyBytes),
      /** DER X.509 certificate, base64url, when the key is certified (e.g. a manufacturer IDevID). */
      certificate: base64urlString({ max: MAX_CERTIFICATE_LENGTH }).optional(),
    })
    // zod still runs this refinement when publicKey has failed its own check (a custom issue does not stop it),
    // so only a well-formed key of the right length is checked and fingerprinted; anything else is already refused
    // on publicKey, and a malformed delivery is a refusal, never an exception (issue 10 item 3). The key must be a
    // point of its curve in its one encoding (review 201), the rule it breaks named.
    .superRefine((d, ctx) => {
      const publicKey = tryFromBase64urlOfLength(d.publicKey, publicKeyBytes);
      if (publicKey === undefined) return;
      const checked = checkPublicKey(kind, publicKey);
      if (!checked.ok) {
        ctx.addIssue({ code: 'custom', path: ['publicKey'], params: { rule: checked.rule }, message: checked.message });
      } else if (d.fingerprint !== publicKeyFingerprint(kind, publicKey)) {
        ctx.addIssue({ code: 'custom', path: ['fingerprint'], message: 'fingerprint does not match the public key' });
      }
    });

export const CredentialDescriptor = z.discriminatedUnion('kind', [
  SymmetricDescriptor,
  asymmetric('ed25519', 32),
  asymmetric('p256', 65),
]);
export type CredentialDescriptor = z.infer<typeof CredentialDescriptor>;
export type AsymmetricCredentialDescriptor = Extract<CredentialDescriptor, { kind: 'ed25519' | 'p256' }>;

/** 'active' within [notBefore, notAfter); the engine's machines decide lifecycles, this only reads the clock. */
export const validityAt = (validity: Validity, at: Date): 'not_yet_valid' | 'active' | 'expired' => {
  const t = at.getTime();
  if (t < Date.parse(validity.notBefore)) return 'not_yet_valid';
  return t < Date.parse(validity.notAfter) ? 'active' : 'expired';
};
