/**
 * The validity of the certificate a Credence CA issues for a credential, from the credential's own. A credential is
 * valid on the half-open window [notBefore, notAfter) (machines/types.ts `isWithin`: at notAfter it has expired, the
 * scheduler records CredentialExpired and its keys are destroyed), while RFC 5280 4.1.2.5 makes both certificate
 * times inclusive and whole seconds (relying parties, OCSP and OpenSSL accept a certificate through its notAfter's
 * second). So the certificate starts at the first whole second at or after the credential's notBefore and ends at
 * the last whole second that ends by its notAfter: it is never valid at an instant its credential is not (found in
 * review: a certificate ending at the credential's notAfter was accepted for one second after it expired; review 221:
 * for a notAfter inside a second, 12:00:00.500, the second before it, 12:00:00, was accepted through 12:00:00.999).
 */
export const certificateValidityOf = (credential: { readonly notBefore: Date; readonly notAfter: Date }): { readonly notBefore: Date; readonly notAfter: Date } => ({
  notBefore: new Date(Math.ceil(credential.notBefore.getTime() / 1000) * 1000),
  notAfter: new Date((Math.floor(credential.notAfter.getTime() / 1000) - 1) * 1000),
});
