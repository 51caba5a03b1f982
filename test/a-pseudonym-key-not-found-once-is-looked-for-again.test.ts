import { describe, expect, it } from 'vitest';
import type { KeyHandle } from '../domain/ports/index.ts';
import { secureEnvironmentPseudonymKey } from '../projections/pseudonyms/index.ts';

/*
 * The pseudonym PRF key is found (or made) in the Secure Environment on first use. A first look that fails (the
 * Secure Environment away for a moment, the key registry refusing its write) used to be kept: every later pseudonym of
 * the process failed with it until a restart.
 */
describe('the pseudonym key of the Secure Environment', () => {
  it('is looked for again after a failed look, and once found is not looked for again', async () => {
    let looks = 0;
    const find = async (): Promise<KeyHandle> => {
      looks += 1;
      if (looks === 1) throw new Error('token "credence" is unavailable');
      return 'key_prf' as KeyHandle;
    };
    const macs: string[] = [];
    const se = { mac: async (handle: KeyHandle, message: Uint8Array) => (macs.push(handle), new Uint8Array(32).fill(message[0]!)) };
    const key = secureEnvironmentPseudonymKey(se, find);
    await expect(key.prf(new Uint8Array([1]))).rejects.toThrow('unavailable');
    expect(await key.prf(new Uint8Array([2]))).toEqual(new Uint8Array(32).fill(2));
    await key.prf(new Uint8Array([3]));
    expect(looks).toBe(2);
    expect(macs).toEqual(['key_prf', 'key_prf']);
  });
});
