import { certificatesNamingAnotherUrl } from '../../../adapters/http/certificates-name-another-url.ts';
import type { ServiceConfig, ServiceContext } from '../../../adapters/http/index.ts';
import { listeningUrl } from '../../../adapters/http/public-url.ts';

/**
 * The URL the folder's certificates name for their CRL and OCSP when it is not the one this start serves at: the URL
 * the start's warning names, found by the same check (certificates-name-another-url.ts) so the two never disagree.
 * The first CA's when several name other URLs. Undefined when the certificates name this start's URL, or there are
 * none yet.
 */
export const certificatesUrlElsewhere = async (context: ServiceContext): Promise<string | undefined> => {
  if (context.pki === undefined) return undefined;
  const elsewhere = await certificatesNamingAnotherUrl({ credence: context.credence, cas: context.pki.cas, publicUrl: context.pki.baseUrl });
  return elsewhere[0]?.certificatesUrl;
};

/** `--host` and `--port` when the URL is the default public URL of a start with them, else `--public-url` of it. */
const flagsServing = (url: string): string => {
  const { hostname, port } = new URL(url);
  if (port === '' || listeningUrl(hostname, Number(port)) !== url) return ` --public-url ${url}`;
  const host = hostname.replace(/^\[(.*)\]$/, '$1'); // an IPv6 address goes to --host without the URL's brackets
  return `${host === '127.0.0.1' ? '' : ` --host ${host}`} --port ${port}`;
};

/**
 * The flags that serve the folder again at the URL its certificates name (their CRL and OCSP). The demo's port is any
 * free one by default, and `npm start`'s is 8080: the bare `npm start -- --data` it suggested served the certificates'
 * URLs nowhere, and the start warned so (found in review). On a folder whose certificates an earlier start issued at
 * another URL (`certificatesUrl`), that URL, the one the start's warning names (found in the review of that fix: the
 * line named this run's port); else the public URL given, else this run's host and port (`url`).
 */
export const servedAgainAt = (config: ServiceConfig, url: string, certificatesUrl: string | undefined): string => {
  if (certificatesUrl !== undefined) return flagsServing(certificatesUrl);
  if (config.publicUrl !== undefined) return ` --public-url ${config.publicUrl}`;
  return `${config.host === '127.0.0.1' ? '' : ` --host ${config.host}`} --port ${new URL(url).port || '80'}`;
};
