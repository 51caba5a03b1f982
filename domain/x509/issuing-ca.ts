import { z } from 'zod';

/**
 * Credence as an issuing CA for relying parties (issue 13): the shape shared by certificate issuance (remote
 * provisioning from a CSR), the CRL projection and the OCSP responder. The CA's private key never leaves the Secure
 * Environment: an `X509Signer` signs to-be-signed DER through it.
 */

/** A CA's id: `default`, or the M2M Service Subscription it serves. Used in URLs, file names and events. */
export const CaId = z.string().max(63).regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 lowercase letters, digits or dashes');
export type CaId = z.infer<typeof CaId>;

export type CaKeyKind = 'ed25519' | 'p256';

/**
 * Signs the DER of a TBSCertificate, TBSCertList or ResponseData: Ed25519 (RFC 8410) returns the raw 64-byte
 * signature; P-256 (ecdsa-with-SHA256, RFC 5758) returns the DER Ecdsa-Sig-Value, as X.509 carries it.
 */
export interface X509Signer {
  readonly kind: CaKeyKind;
  /** Ed25519 32 bytes; P-256 65-byte uncompressed point. */
  readonly publicKey: Uint8Array;
  sign(tbs: Uint8Array): Promise<Uint8Array>;
}

export interface IssuingCa {
  readonly id: CaId;
  /** DER of this CA's certificate. */
  readonly certificate: Uint8Array;
  /** DER of the certificates above it, nearest issuer first, up to and including the root; empty for a root. */
  readonly chain: readonly Uint8Array[];
  readonly signer: X509Signer;
}

/** A refusal of a PKI base URL: the rule it breaks and what to do, never the URL's user name or password. */
export interface PkiBaseUrlIssue {
  readonly rule: string;
  readonly message: string;
}

/** The characters RFC 3986 (section 2) allows in a URI, `%` only before two hex digits; `[` `]` only around an IPv6 host. */
const URI_CHARACTER = /[A-Za-z0-9\-._~!$&'()*+,;=:@/%[\]]/;

const withoutTrailingSlashes = (url: string): string => url.replace(/\/+$/, '');

const describeCharacter = (c: string): string => {
  const code = c.codePointAt(0)!;
  if (/\s/.test(c)) return `white space (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
  if (code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0)) return `a control character (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
  return `a non-ASCII character (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
};

/**
 * What keeps `text` from being the base of the URLs every certificate and CRL names for its whole lifetime (CDP, AIA,
 * freshestCRL; `pkiUrls`): empty when it can be. The text is written into them as it is (a trailing `/` aside), so it
 * must already be the RFC 3986 URI a relying party fetches (RFC 5280 4.2.1.13, 4.2.2.1, 5.2.6: an IA5String holding a
 * URI): an `http://` or `https://` URL, printable ASCII, no user name or password (a certificate is public), no query
 * or fragment (even an empty `?` or `#` turns the path appended after it into a query or a fragment, found in review),
 * and written as the URL it names (what the WHATWG parser makes of it, so no dot segments, default port or upper-case
 * host that one reader resolves and another does not). One issue, the first rule broken; no message repeats the text
 * before userinfo has been ruled out, and none repeats a user name or password.
 */
export const pkiBaseUrlIssues = (text: string): readonly PkiBaseUrlIssue[] => {
  const other = /[^\x21-\x7e]/u.exec(text);
  if (other !== null) {
    // An international host name's ASCII form, when that is what is non-ASCII (the host holds no password).
    const host = URL.canParse(text) && !text.includes('@') ? new URL(text).hostname : '';
    const hint = host.includes('xn--') ? ` (this host is ${host})` : '';
    return [
      {
        rule: 'printable_ascii',
        message:
          `holds ${describeCharacter(other[0])} at character ${other.index + 1}: certificates carry this URL as an IA5String (RFC 5280 4.2.1.13), ` +
          `printable ASCII only; percent-encode it in the path (a space is %20) and write an international host name in its ASCII (punycode) form${hint}`,
      },
    ];
  }
  if (text.includes('?') || text.includes('#')) {
    return [{ rule: 'no_query_or_fragment', message: 'must not hold a ? or # (not even an empty query or fragment): the paths appended to it (/pki/<ca>/crl) would become a query or a fragment' }];
  }
  if (!/^https?:\/\//.test(text)) return [{ rule: 'http_url', message: 'must begin with http:// or https://' }];
  const authority = text.slice(text.indexOf('//') + 2).split('/')[0]!;
  if (authority.includes('@')) {
    return [
      {
        rule: 'no_userinfo',
        message:
          'must not carry a user name or password (the part before @): every certificate and CRL would publish it to anyone who reads them; ' +
          'relying parties fetch these URLs without credentials (the value is not repeated here)',
      },
    ];
  }
  for (const [i, c] of [...text].entries()) {
    const inAuthority = i >= text.indexOf('//') + 2 && i < text.indexOf('//') + 2 + authority.length;
    if (!URI_CHARACTER.test(c) || ((c === '[' || c === ']') && !inAuthority)) {
      return [{ rule: 'uri_characters', message: `holds ${c} at character ${i + 1}, which RFC 3986 does not allow there: percent-encode it (%${c.charCodeAt(0).toString(16).toUpperCase()})` }];
    }
    if (c === '%' && !/^%[0-9A-Fa-f]{2}/.test(text.slice(i))) {
      return [{ rule: 'uri_characters', message: `holds a % at character ${i + 1} not followed by two hex digits (RFC 3986 2.1)` }];
    }
  }
  if (!URL.canParse(text)) return [{ rule: 'url', message: 'is not a URL: its host or port cannot be read' }];
  const named = new URL(text).href;
  if (withoutTrailingSlashes(named) !== withoutTrailingSlashes(text)) {
    return [
      {
        rule: 'normalized_url',
        message:
          `must be written as the URL it names, ${withoutTrailingSlashes(named)}: certificates carry the text as written, and a relying ` +
          'party may resolve it differently (dot segments, a default port, an upper-case or shortened host)',
      },
    ];
  }
  return [];
};

/** Where relying parties fetch a CA's certificate and revocation status: embedded in every certificate (CDP, AIA). */
export const pkiUrls = (baseUrl: string, caId: CaId) => {
  // Callers pass a validated publicUrl (adapters/http/service-config.ts); anything else is a programming mistake.
  const issue = pkiBaseUrlIssues(baseUrl)[0];
  if (issue !== undefined) throw new TypeError(`baseUrl: ${issue.rule}: ${issue.message}`);
  const base = `${withoutTrailingSlashes(baseUrl)}/pki/${caId}`;
  return { caCertificate: `${base}/ca.crt`, crl: `${base}/crl`, deltaCrl: `${base}/delta-crl`, ocsp: `${base}/ocsp` } as const;
};
