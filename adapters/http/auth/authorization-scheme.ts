/**
 * The scheme of an `Authorization` header that is not Bearer, as a refusal may name it. RFC 9110 §11.1: an
 * auth-scheme is a token, case-insensitive. Only a registered scheme is named (IANA HTTP Authentication Scheme
 * Registry, plus NTLM), in its registered spelling: whatever else leads the header may be the credentials themselves
 * (a token sent without `Bearer ` before it), which a refusal never echoes.
 */
const REGISTERED_SCHEMES = [
  'Basic',
  'Concealed',
  'Digest',
  'DPoP',
  'GNAP',
  'HOBA',
  'Mutual',
  'Negotiate',
  'NTLM',
  'OAuth',
  'PrivateToken',
  'SCRAM-SHA-1',
  'SCRAM-SHA-256',
  'vapid',
] as const;

const BY_LOWER_CASE = new Map<string, string>(REGISTERED_SCHEMES.map((scheme) => [scheme.toLowerCase(), scheme]));

/** A token (RFC 9110 §5.6.2) leading the header, then whitespace or its end. */
const SCHEME = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s|$)/;

/**
 * What leads `header` when it is a scheme other than Bearer: `{ named }` for a registered one, `{ named: undefined }`
 * for any other token; undefined when nothing leading it reads as a scheme, or when it is Bearer.
 */
export const otherScheme = (header: string): { readonly named: string | undefined } | undefined => {
  const scheme = SCHEME.exec(header)?.[1];
  if (scheme === undefined || scheme.toLowerCase() === 'bearer') return undefined;
  return { named: BY_LOWER_CASE.get(scheme.toLowerCase()) };
};
