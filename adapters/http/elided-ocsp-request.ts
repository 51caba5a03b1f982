/** `/pki/<caId segment>/ocsp/` and what follows it up to a query: an OCSP GET's request (routes/pki.ts). */
const OCSP_GET_URL = /^(\/pki\/[^/?#]*\/ocsp\/)([^?#]+)/;

/**
 * `url` with an OCSP GET's request (RFC 6960 A.1: the base64 OCSPRequest after `ocsp/`, up to ~4 KB) written as
 * `<elided N bytes>`: the route and the CA stay, the request's bytes say nothing a log reader needs (the responder
 * logs why it refused one) and made every log line of an OCSP GET as long as the request. Any other URL as it is.
 * Linear in the URL's length; read before anything else of the URL is (redact-url.ts), so the request is not scanned.
 */
export const elidedOcspRequest = (url: string): string => {
  const match = OCSP_GET_URL.exec(url);
  if (match === null) return url;
  return `${match[1]}<elided ${match[2]!.length} bytes>${url.slice(match[0].length)}`;
};
