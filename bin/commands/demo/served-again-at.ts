import { certificatesNamingAnotherUrl } from '../../../adapters/http/certificates-name-another-url.ts';
import type { ServiceConfig, ServiceContext } from '../../../adapters/http/index.ts';
import { listeningUrl } from '../../../adapters/http/public-url.ts';
import { shellWord } from '../../shell-word.ts';

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

/** `--host` unless it is the default, and `--port` of the URL this start listens at. */
const listeningFlags = (host: string, listening: string): string =>
  `${host === '127.0.0.1' ? '' : ` --host ${host}`} --port ${new URL(listening).port || '80'}`;

/**
 * `--host` and `--port` when the URL is the default public URL of a start with them, else `--public-url` of it with
 * this start's own `--host` and `--port` (review 109: without `--host 0.0.0.0` a container's start served its public
 * URL from 127.0.0.1 only).
 */
const flagsServing = (url: string, host: string, listening: string): string => {
  const { hostname, port } = new URL(url);
  if (port === '' || listeningUrl(hostname, Number(port)) !== url) return `${listeningFlags(host, listening)} --public-url ${url}`;
  const urlHost = hostname.replace(/^\[(.*)\]$/, '$1'); // an IPv6 address goes to --host without the URL's brackets
  return `${urlHost === '127.0.0.1' ? '' : ` --host ${urlHost}`} --port ${port}`;
};

/**
 * The flags that serve the folder again at the URL its certificates name (their CRL and OCSP). The demo's port is any
 * free one by default, and `npm start`'s is 8080: the bare `npm start -- --data` it suggested served the certificates'
 * URLs nowhere, and the start warned so (found in review). On a folder whose certificates an earlier start issued at
 * another URL (`certificatesUrl`), that URL, the one the start's warning names (found in the review of that fix: the
 * line named this run's port); else the public URL given, else this run's host and port (`url`, where it listens). The
 * host it listens on is kept whenever a public URL is named.
 */
export const servedAgainAt = (config: ServiceConfig, url: string, certificatesUrl: string | undefined): string => {
  if (certificatesUrl !== undefined) return flagsServing(certificatesUrl, config.host, url);
  if (config.publicUrl !== undefined) return `${listeningFlags(config.host, url)} --public-url ${config.publicUrl}`;
  return listeningFlags(config.host, url);
};

/**
 * The `npm start` that serves the folder `data` again with the flags `again` (servedAgainAt): the demo's next step and
 * a start's closing line say the same (review 106: a start said a bare `npm start`, which serves ./data on 8080).
 */
export const startCommandServing = (data: string, again: string): string => `npm start -- --data ${shellWord(data)}${again}`;
