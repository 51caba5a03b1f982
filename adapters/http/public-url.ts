import { validationError } from '../../domain/errors.ts';

/**
 * The URL issued certificates name for their CRLs, OCSP responder and CA certificate (issue 13). Relying parties
 * fetch those URLs for the certificates' whole lifetime, so a URL no one else can reach must never be written.
 */

/**
 * Why `url` cannot be the public URL for its port, or undefined: port 0 is what a service listens on to be given any
 * free port, never one a relying party connects to (review 298 item 7: `--public-url http://example.org:0` was taken,
 * and certificates would have named CRL and OCSP URLs there for their whole lifetime).
 */
export const publicUrlPortIssue = (url: string): { readonly rule: string; readonly message: string } | undefined =>
  URL.canParse(url) && new URL(url).port === '0'
    ? { rule: 'port_zero', message: 'must not name port 0, which no relying party can connect to: name the port this service is reached at, or none for the scheme default' }
    : undefined;

/** `host` as it goes in a URL's authority: an IPv6 address in brackets. */
export const hostForUrl = (host: string): string => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

/** `http://<host>:<port>`: the public URL when none is configured. */
export const listeningUrl = (host: string, port: number): string => `http://${hostForUrl(host)}:${port}`;

/** The unspecified addresses, as the URL parser writes them (it reads `0`, `0x0`, `0:0::0` as these too). */
const WILDCARDS = new Set(['0.0.0.0', '[::]', '[::ffff:0:0]']);

/**
 * Whether `host` is a wildcard (unspecified) address: a socket bound to it accepts on every interface, but as a
 * destination it names no one else's machine, so a URL with it is unreachable for a relying party.
 */
export const isWildcardHost = (host: string): boolean => {
  const url = `http://${hostForUrl(host)}/`;
  return URL.canParse(url) && WILDCARDS.has(new URL(url).hostname);
};

/**
 * Refuses (a `validation` error naming `publicUrl`) to publish certificate URLs under a wildcard `host`: with issuing
 * CAs and no `publicUrl`, every certificate would point at `http://0.0.0.0:…` for its whole lifetime. Without CAs
 * nothing names the URL (a CA is added only while the service is stopped, and the next start checks again).
 */
export const assertPublishableHost = (host: string, publicUrl: string | undefined, caCount: number): void => {
  if (caCount === 0) return;
  // A publicUrl naming a wildcard address is as unreachable as the default built from one (found in review).
  if (publicUrl !== undefined) {
    const named = URL.canParse(publicUrl) ? new URL(publicUrl).hostname : undefined;
    if (named === undefined || !isWildcardHost(named)) return;
    throw validationError(
      [{ path: 'publicUrl', rule: 'public_url_for_wildcard_host', message: `${publicUrl} names a wildcard address, which relying parties cannot reach: set it to the URL they reach this service at` }],
      'service configuration',
    );
  }
  if (!isWildcardHost(host)) return;
  throw validationError(
    [
      {
        path: 'publicUrl',
        rule: 'public_url_for_wildcard_host',
        message:
          `must be set when the service listens on the wildcard address ${host} with issuing CAs: their certificates ` +
          `would name http://${hostForUrl(host)}:… for their CRLs and OCSP, which relying parties cannot reach; set ` +
          'publicUrl (--public-url, CREDENCE_PUBLIC_URL) to the URL they reach this service at',
      },
    ],
    'service configuration',
  );
};
