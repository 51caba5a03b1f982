import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';

/*
 * Review 298 items 6 and 7: CREDENCE_DATA='/var/lib/credence ' made a folder whose name ends in a space (and
 * CREDENCE_STORE='sqlite:/var/lib/ev ' was quietly trimmed), and --public-url http://example.org:0 was accepted:
 * certificates would name CRL and OCSP URLs on port 0, which no relying party reaches.
 */
const refusalOf = (sources: Parameters<typeof loadServiceConfig>[0]): string => {
  try {
    loadServiceConfig(sources);
  } catch (error) {
    return JSON.stringify((error as { problem: unknown }).problem);
  }
  throw new Error('accepted');
};

describe('a path setting with a space at either end is refused, naming the setting', () => {
  it.each([
    ['CREDENCE_DATA', '/var/lib/credence '],
    ['CREDENCE_DATA', ' ./data'],
    ['CREDENCE_SIGNING', '/etc/credence/signing.json '],
    ['CREDENCE_STORE', 'sqlite:/var/lib/ev '],
    ['CREDENCE_STORE', 'sqlite: /var/lib/ev'],
    ['CREDENCE_STORE', 'sqlite:/var/lib/ev ?durability=full'],
  ])('env %s=%j', (name, value) => {
    const refusal = refusalOf({ env: { [name]: value } });
    expect(refusal).toContain(`"path":"env ${name}"`);
    expect(refusal).toContain('"rule":"edge_spaces"');
    expect(refusal).toContain('must not begin or end with a space');
  });

  it('the same in a flag', () => {
    expect(refusalOf({ flags: { data: './data ' } })).toContain('"path":"flag --data"');
  });

  it('a store on EventStoreDB is left to its client, which trims the string', () => {
    expect(loadServiceConfig({ env: { CREDENCE_STORE: 'esdb://127.0.0.1:2113?tls=false ' } }).store).toBe('esdb://127.0.0.1:2113?tls=false ');
  });
});

describe('a public URL on port 0 is refused', () => {
  it.each(['http://example.org:0', 'https://example.org:0/credence'])('%s', (publicUrl) => {
    const refusal = refusalOf({ flags: { publicUrl } });
    expect(refusal).toContain('"path":"flag --public-url"');
    expect(refusal).toContain('"rule":"port_zero"');
  });

  it('another port is still accepted', () => {
    expect(loadServiceConfig({ flags: { publicUrl: 'http://example.org:8080' } }).publicUrl).toBe('http://example.org:8080');
  });
});
