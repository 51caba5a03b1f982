import { validationError } from '../../domain/errors.ts';
import { pkiBaseUrlIssues } from '../../domain/x509/issuing-ca.ts';

/**
 * Refuses (a `validation` error naming `publicUrl`) a URL certificates could not carry as it is: the configuration
 * refuses such a `publicUrl` already (config.ts); this catches a ServiceConfig not made by it, and the default built
 * from `host` (`http://<host>:<port>`: a host name in upper case, say). Only with issuing CAs: without one nothing names
 * the URL. The message repeats no user name or password (pkiBaseUrlIssues). Apart from start.ts so that the demo can
 * make the same check before it makes its CA without loading the server.
 */
export const assertCertifiableUrl = (url: string, configured: boolean, caCount: number): void => {
  const issue = caCount === 0 ? undefined : pkiBaseUrlIssues(url)[0];
  if (issue === undefined) return;
  const message = configured
    ? issue.message
    : `the default http://<host>:<port> cannot be named in certificates: it ${issue.message}; set publicUrl (--public-url, CREDENCE_PUBLIC_URL) to the URL relying parties reach this service at`;
  throw validationError([{ path: 'publicUrl', rule: issue.rule, message }], 'service configuration');
};
