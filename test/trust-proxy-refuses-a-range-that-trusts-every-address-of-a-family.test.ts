import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';

/*
 * Review 298 items 5 and 6: `0.0.0.0/0` and `::/0` were refused for a wrong reason (proxy-addr threw: "must be … a
 * CIDR range"), while `::ffff:0:0/96` (every IPv4 client, as proxy-addr compares them mapped) and
 * `0.0.0.0/1,128.0.0.0/1` were accepted: with any of them every client names its own address in X-Forwarded-For, and
 * so its own rate-limit budget and failed-token count. And a CREDENCE_TRUST_PROXY of " " or "," became an empty list
 * that silently replaced the file's.
 */
const refusalOf = (trustProxy: string): string => {
  try {
    loadServiceConfig({ flags: { trustProxy } });
  } catch (error) {
    return JSON.stringify((error as { problem: unknown }).problem);
  }
  throw new Error(`${trustProxy} accepted`);
};

describe('trustProxy refuses a range that trusts every address of a family', () => {
  it.each([
    ['0.0.0.0/0', 'IPv4', '/8'],
    ['0.0.0.0/1', 'IPv4', '/8'],
    ['10.0.0.0/7', 'IPv4', '/8'],
    ['::/0', 'IPv6', '/16'],
    ['2000::/3', 'IPv6', '/16'],
    ['fe00::/7', 'IPv6', '/16'],
    ['fc00::/6', 'IPv6', '/16'],
    ['fd00::/8', 'IPv6', '/16'],
    ['fe80::/9', 'IPv6', '/16'],
    ['fec0::/10', 'IPv6', '/16'],
  ])('%s: the %s prefix must be at least %s', (entry, family, bound) => {
    const refusal = refusalOf(entry);
    expect(refusal).toContain('"rule":"proxy_address"');
    expect(refusal).toContain(`an ${family} range must have a prefix of at least ${bound}`);
    expect(refusal).not.toContain('a CIDR range, or loopback');
  });

  it.each(['::ffff:0:0/96', '::ffff:0.0.0.0/97', '::ffff:0:0/103', '::/16', '::/80', '::/64'])('%s holds IPv4 addresses in their mapped form, wider than a /8 of them', (entry) => {
    const refusal = refusalOf(entry);
    expect(refusal).toContain('"rule":"proxy_address"');
    expect(refusal).toContain('holds the IPv4-mapped addresses (::ffff:0:0/96) of more than an IPv4 /8: at least /104');
  });

  it('a list of halves is refused entry by entry', () => {
    const refusal = refusalOf('0.0.0.0/1,128.0.0.0/1');
    expect(refusal).toContain('"path":"flag --trust-proxy[0]"');
    expect(refusal).toContain('"path":"flag --trust-proxy[1]"');
  });

  it.each(['10.0.0.0/8', '::ffff:10.0.0.0/104', '2001:db8::/32', 'fc00::/16', 'loopback,linklocal,uniquelocal', '192.0.2.7'])('%s is still accepted', (entry) => {
    expect(loadServiceConfig({ flags: { trustProxy: entry } }).trustProxy.length).toBeGreaterThan(0);
  });

  // Review 304 item 2: fc00::/7 and fe80::/10 are exactly what `uniquelocal` and `linklocal` name, so a config
  // written with them, accepted before the /16 bound, must not fail after an upgrade; any other spelling of the same
  // range is the same range.
  it.each(['fc00::/7', 'fe80::/10', 'FC00::/7', 'fe80:0::/10', 'fc00::/7,fe80::/10,10.0.0.0/8'])('%s, a range proxy-addr names, is accepted', (entry) => {
    expect(loadServiceConfig({ flags: { trustProxy: entry } }).trustProxy).toEqual(entry.split(','));
  });

  it.each([' ', ',', ' , '])('CREDENCE_TRUST_PROXY=%j, naming no proxy, is refused rather than emptying the file list', (value) => {
    expect(() => loadServiceConfig({ env: { CREDENCE_TRUST_PROXY: value } })).toThrow(/env CREDENCE_TRUST_PROXY.*names no proxy/);
    expect(() => loadServiceConfig({ flags: { trustProxy: value } })).toThrow(/flag --trust-proxy.*names no proxy/);
  });
});
