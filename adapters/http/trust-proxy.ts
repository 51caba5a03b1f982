import { compile as compileTrust } from '@fastify/proxy-addr';
import { z } from 'zod';

/** Proxies named at most in `trustProxy`: a deployment has a handful of load balancers, not a network's worth. */
const MAX_TRUSTED_PROXIES = 64;

/**
 * The reverse proxies whose X-Forwarded-For this service believes: addresses, CIDR ranges, or proxy-addr's names
 * (`loopback`, `linklocal`, `uniquelocal`). Given as a list (configuration file) or comma-separated (flag, env).
 * Checked by @fastify/proxy-addr's own compile, which is what Fastify runs on it, so nothing accepted here fails at start.
 */
export const TrustProxy = z.preprocess(
  (value) => (typeof value === 'string' ? value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '') : value),
  z
    .array(z.string().min(1).max(64))
    .max(MAX_TRUSTED_PROXIES)
    .superRefine((entries, context) => {
      entries.forEach((entry, index) => {
        try {
          compileTrust(entry);
        } catch {
          context.addIssue({ code: 'custom', path: [index], params: { rule: 'proxy_address' }, message: 'must be an IP address, a CIDR range, or loopback, linklocal or uniquelocal' });
        }
      });
    }),
);

/** Fastify's `trustProxy` for the setting: none named, the header is never read. */
export const trustProxyOf = (config: { readonly trustProxy: readonly string[] }): string[] | false => (config.trustProxy.length > 0 ? [...config.trustProxy] : false);
