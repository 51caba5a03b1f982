import { compile as compileTrust } from '@fastify/proxy-addr';
import type { FastifyInstance } from 'fastify';
import { isIP } from 'node:net';
import { z } from 'zod';
import { validationError } from '../../domain/errors.ts';

/** Proxies named at most in `trustProxy`: a deployment has a handful of load balancers, not a network's worth. */
const MAX_TRUSTED_PROXIES = 64;

const NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const NOT_AN_ENTRY = 'must be an IP address in its usual form, a CIDR range, or loopback, linklocal or uniquelocal';

/** The bits of an IP address, most significant first (IPv6 in full, an IPv4 tail included). */
const addressBits = (address: string): string => {
  const octets = (v4: string) => v4.split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('');
  if (isIP(address) === 4) return octets(address);
  const groups = address.split('::').map((part) => (part === '' ? [] : part.split(':')));
  const last = groups[groups.length - 1]!;
  const v4 = last.at(-1)?.includes('.') === true ? octets(last.pop()!) : '';
  const present = groups.reduce((n, g) => n + g.length, 0);
  const all = groups.length === 1 ? groups[0]! : [...groups[0]!, ...Array<string>(8 - v4.length / 16 - present).fill('0'), ...groups[1]!];
  return all.map((g) => parseInt(g, 16).toString(2).padStart(16, '0')).join('') + v4;
};

/**
 * The widest ranges named (review 298 item 5): a client inside a named range writes X-Forwarded-For itself and is
 * believed, so `0.0.0.0/0`, `::/0` or `::ffff:0:0/96` (every IPv4 client, which proxy-addr compares in that mapped
 * form) let every client choose its address, and with it its own rate-limit budget and failed-token count. A /8 of
 * IPv4 and a /16 of IPv6 are past any deployment's proxies. With at most 64 entries, such ranges together cannot cover
 * a family either (64 /8s are a quarter of IPv4).
 */
const LEAST_IPV4_PREFIX = 8;
const LEAST_IPV6_PREFIX = 16;
/** ::ffff:0:0/96, the IPv4-mapped addresses, and the prefix naming a /8 of IPv4 among them. */
const MAPPED_BITS = `${'0'.repeat(80)}${'1'.repeat(16)}`;
const LEAST_MAPPED_PREFIX = 96 + LEAST_IPV4_PREFIX;

/**
 * The two IPv6 ranges wider than a /16 that are taken all the same, however spelt: exactly what proxy-addr's
 * `uniquelocal` (fc00::/7) and `linklocal` (fe80::/10) name, which are accepted too, so a configuration written with
 * the ranges before the /16 bound still starts (review 304 item 2).
 */
const NAMED_IPV6_RANGES = [
  { prefix: 7, first: addressBits('fc00::').slice(0, 7) },
  { prefix: 10, first: addressBits('fe80::').slice(0, 10) },
];

const TRUSTS_ITS_OWN = 'every client inside a named range may name its own address in X-Forwarded-For, and with it its own rate-limit budget and failed-token count';

const wideRangeIssue = (family: number, bits: string, prefix: number): string | undefined => {
  if (family === 4 && prefix < LEAST_IPV4_PREFIX) return `is too wide: an IPv4 range must have a prefix of at least /${LEAST_IPV4_PREFIX} (${TRUSTS_ITS_OWN})`;
  if (family === 4) return undefined;
  if (NAMED_IPV6_RANGES.some((named) => named.prefix === prefix && bits.startsWith(named.first))) return undefined;
  if (prefix < LEAST_IPV6_PREFIX) {
    return `is too wide: an IPv6 range must have a prefix of at least /${LEAST_IPV6_PREFIX} (${TRUSTS_ITS_OWN}); of the wider ones only fc00::/7 and fe80::/10 (uniquelocal and linklocal) are taken`;
  }
  const shared = Math.min(prefix, MAPPED_BITS.length);
  if (prefix < LEAST_MAPPED_PREFIX && bits.slice(0, shared) === MAPPED_BITS.slice(0, shared)) {
    return `is too wide: it holds the IPv4-mapped addresses (::ffff:0:0/96) of more than an IPv4 /${LEAST_IPV4_PREFIX}: at least /${LEAST_MAPPED_PREFIX} (${TRUSTS_ITS_OWN})`;
  }
  return undefined;
};

/**
 * Why `entry` is not a proxy this service should name, or undefined. Stricter than proxy-addr's compile, which
 * reads the old IPv4 forms (found in review: `010.0.0.1` trusted 8.0.0.1, `10.1` and `0x0a.0.0.1` were taken) and
 * quietly widens a range with host bits set (`1.2.3.4/8` trusted all of 1.0.0.0/8).
 */
const entryIssue = (entry: string): string | undefined => {
  if (NAMES.has(entry)) return undefined;
  const [address = '', prefix, ...more] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || address.includes('%') || more.length > 0) return NOT_AN_ENTRY;
  if (prefix !== undefined) {
    const width = family === 4 ? 32 : 128;
    const least = family === 4 ? LEAST_IPV4_PREFIX : LEAST_IPV6_PREFIX;
    if (!/^(0|[1-9]\d{0,2})$/.test(prefix) || Number(prefix) > width) return `must have a prefix length from ${least} to ${width}`;
    const bits = addressBits(address);
    if (bits.slice(Number(prefix)).includes('1')) return `has bits set past its /${prefix} prefix: name the range by its first address`;
    const wide = wideRangeIssue(family, bits, Number(prefix));
    if (wide !== undefined) return wide;
  }
  try {
    compileTrust(entry);
  } catch {
    return NOT_AN_ENTRY;
  }
  return undefined;
};

/**
 * The reverse proxies whose X-Forwarded-For this service believes: addresses, CIDR ranges, or proxy-addr's names
 * (`loopback`, `linklocal`, `uniquelocal`). Given as a list (configuration file) or comma-separated (flag, env).
 * Each is held to the usual forms (`entryIssue`) and then to @fastify/proxy-addr's own compile, which is what Fastify
 * runs on it, so nothing accepted here fails at start or means other than it says.
 */
export const TrustProxy = z.preprocess(
  (value, context) => {
    if (typeof value !== 'string') return value;
    const entries = value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
    // Review 298 item 6: " " or "," became an empty list that silently replaced the file's. An empty flag value
    // still names none on purpose (an empty variable counts as unset, config.ts).
    if (entries.length === 0 && value !== '') {
      context.addIssue({ code: 'custom', input: value, params: { rule: 'proxy_address' }, message: 'names no proxy (only spaces and commas): leave it unset, or name the proxies' });
    }
    return entries;
  },
  z
    .array(z.string().min(1).max(64))
    .max(MAX_TRUSTED_PROXIES)
    .superRefine((entries, context) => {
      entries.forEach((entry, index) => {
        const why = entryIssue(entry);
        if (why !== undefined) context.addIssue({ code: 'custom', path: [index], params: { rule: 'proxy_address' }, message: why });
      });
    }),
);

/** Fastify's `trustProxy` for the setting: none named, the header is never read. */
export const trustProxyOf = (config: { readonly trustProxy: readonly string[] }): string[] | false => (config.trustProxy.length > 0 ? [...config.trustProxy] : false);

/**
 * With proxies named, the client is what they forwarded for; a client inside a named range writes that header itself
 * and could name anything, and each made-up name was a rate-limit budget and a failed-token count of its own (found
 * in review). A forwarded value that is not an IP address is refused (400, before the rate limit and the access
 * hook), so the client is at least an address; which addresses to name is the deployment's: its proxies' own only.
 */
export const refuseForwardedNonAddresses = (app: FastifyInstance): void => {
  app.addHook('onRequest', async (request) => {
    const { ip } = request;
    if (ip === undefined || isIP(ip) !== 0) return;
    throw validationError([{ path: 'headers.x-forwarded-for', rule: 'ip_address', message: 'must name the client by its IP address' }], 'request');
  });
};
