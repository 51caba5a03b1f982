import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedSecureEnvironment, secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { InspectableSecureEnvironment } from './support/inspectable-secure-environment.ts';
import { fakeClock, seededRandom } from './crypto-fixtures.ts';
import { secureEnvironmentConformance } from './secure-environment-conformance.suite.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const clock = fakeClock();
let opened = 0;

secureEnvironmentConformance({
  name: 'embedded',
  agreementGroups: ['x25519', 'p256'],
  derivation: 'offered',
  open: (options = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-se-conformance-'));
    dirs.push(dir);
    const config = { ...secureEnvironmentConfigForDataDir(dir), ...(options.owners ? { owners: [...options.owners] } : {}) };
    const open = () => EmbeddedSecureEnvironment.open(config, { now: clock.now, random: seededRandom(`conformance-${(opened += 1)}`) });
    const se = open();
    return {
      se,
      restart: () => {
        se.close();
        return open();
      },
    };
  },
});

describe('embedded Secure Environment: key bytes (through the test-only inspectable subclass)', () => {
  const open = () => InspectableSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: clock.now, random: seededRandom('inspect') });
  const text = (s: string) => new TextEncoder().encode(s);

  it('a wrapped PSK does not contain its bytes, and a destroyed key cannot be read back', async () => {
    const se = open();
    const psk = await se.generate('node:alice', 'psk256', { extractable: true });
    const kek = await se.deriveKey('node:alice', { inputs: [await se.generate('node:alice', 'psk256')], salt: text('s'), info: text('i'), kind: 'session256' });
    const wrapped = await se.wrap('node:alice', psk, kek, text('bound'));
    expect(Buffer.from(wrapped).includes(Buffer.from(se.exportForTest(psk)))).toBe(false);
    const ed = await se.generate('node:alice', 'ed25519');
    for (const handle of [psk, ed]) {
      await se.destroy('node:alice', handle);
      expect(() => se.exportForTest(handle)).toThrow(`key ${handle} does not exist`);
    }
    se.close();
  });

  it('verifyMac leaves no copy of the tag it expected: the buffer it computed is zeroed, whether the tag matched or not', async () => {
    const se = open();
    const psk = await se.generate('node:alice', 'psk256');
    const good = await se.mac('node:alice', psk, text('hello'));
    const computed: Uint8Array[] = [];
    const mac = se.mac.bind(se);
    se.mac = async (...args: Parameters<typeof se.mac>) => {
      const tag = await mac(...args);
      computed.push(tag);
      return tag;
    };
    expect(await se.verifyMac('node:alice', psk, text('hello'), good)).toBe(true);
    expect(await se.verifyMac('node:alice', psk, text('hello'), new Uint8Array(32))).toBe(false);
    expect(computed).toHaveLength(2);
    for (const tag of computed) expect([...tag].every((b) => b === 0)).toBe(true);
    expect([...good].some((b) => b !== 0)).toBe(true);
    se.close();
  });
});
