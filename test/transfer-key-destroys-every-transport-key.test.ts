import { describe, expect, it } from 'vitest';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';
import { transferKey } from '../adapters/protocols/procedures/transfer-key.ts';
import { ownerView, type KeyHandle, type OwnedSecureEnvironment } from '../domain/ports/index.ts';

/*
 * Found in review: a key transfer between two Secure Environments (pre-provisioning's bootstrap PSK, to the device
 * and back to the infrastructure) never destroyed the raw agreed secrets, so each pre-provisioned device left four
 * live secrets behind; and a refused transfer left all six transport keys. Every handle a transfer makes, except
 * the copy it returns, is gone however it ends.
 */

const open = (owner: string) =>
  ownerView(
    EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => new Date(), random: (n) => crypto.getRandomValues(new Uint8Array(n)) }),
    owner,
  );

/** The environment, and every handle its key-making calls returned. */
const recording = (se: OwnedSecureEnvironment): { se: OwnedSecureEnvironment; made: KeyHandle[] } => {
  const made: KeyHandle[] = [];
  const track = <A extends unknown[]>(call: (...args: A) => Promise<KeyHandle>) => async (...args: A) => {
    const handle = await call(...args);
    made.push(handle);
    return handle;
  };
  return {
    made,
    se: {
      ...se,
      generate: track(se.generate),
      agree: track(se.agree),
      deriveKey: track(se.deriveKey),
      unwrap: track(async (...args: Parameters<typeof se.unwrap>) => (await se.unwrap(...args))!),
    } as OwnedSecureEnvironment,
  };
};

const live = async (se: OwnedSecureEnvironment, handles: readonly KeyHandle[]) => {
  const out: KeyHandle[] = [];
  for (const h of handles) {
    try {
      await se.describe(h);
      out.push(h);
    } catch {
      // destroyed
    }
  }
  return out;
};

describe('a key transfer between Secure Environments', () => {
  it('leaves only the copy it returns, and the key it was given', async () => {
    const from = recording(open('maf:infrastructure'));
    const to = recording(open('device:meter-1'));
    const psk = await from.se.generate('psk256', { extractable: true });
    from.made.length = 0;
    const copy = await transferKey({ se: from.se, handle: psk }, to.se);
    expect(await live(from.se, from.made)).toEqual([]);
    expect(await live(to.se, to.made)).toEqual([copy]);
    expect((await to.se.describe(copy)).fingerprint).toBe((await from.se.describe(psk)).fingerprint);
  });

  it('leaves nothing behind when it is refused', async () => {
    const from = recording(open('maf:infrastructure'));
    const to = recording(open('device:meter-1'));
    const signing = await from.se.generate('ed25519', { usage: 'sign' });
    from.made.length = 0;
    await expect(transferKey({ se: from.se, handle: signing }, to.se)).rejects.toThrow(/only symmetric keys travel/);
    expect(await live(from.se, from.made)).toEqual([]);
    expect(await live(to.se, to.made)).toEqual([]);
  });
});
