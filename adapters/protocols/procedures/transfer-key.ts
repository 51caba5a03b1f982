import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/index.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';

const TRANSPORT_INFO = new TextEncoder().encode('credence/v1/factory-key-transport');

/**
 * Places a copy of an extractable key in another Secure Environment without its bytes ever leaving either in
 * plaintext (seed 004: "keys should always be communicated in an encrypted form"): a transport key agreed by
 * ephemeral X25519 between the two environments, then the key wrapped under it. The factory uses this to put
 * a bootstrap PSK both in the device and at the Enrolment Function (pre-provisioning, 11.2.1 scenario 1).
 */
export const transferKey = async (
  from: { se: OwnedSecureEnvironment; handle: KeyHandle },
  to: OwnedSecureEnvironment,
): Promise<KeyHandle> => {
  // Every transport key, the raw agreed secrets included, is destroyed however the transfer ends (found in review:
  // the secrets outlived every transfer, and a refused one left all six behind).
  const made: { readonly from: (KeyHandle | undefined)[]; readonly to: (KeyHandle | undefined)[] } = { from: [], to: [] };
  const keep = <H extends KeyHandle>(side: 'from' | 'to', handle: H): H => {
    made[side].push(handle);
    return handle;
  };
  try {
    const { kind } = await from.se.describe(from.handle);
    if (kind !== 'psk256' && kind !== 'session256') throw new TypeError(`transferKey: handle is a ${kind} key; only symmetric keys travel`);
    const a = keep('from', await from.se.generate('x25519', { ephemeral: true }));
    const b = keep('to', await to.generate('x25519', { ephemeral: true }));
    const spec = { salt: new Uint8Array(32), info: TRANSPORT_INFO, kind: 'session256' as const, ephemeral: true };
    const secretFrom = keep('from', await from.se.agree(a, (await to.describe(b)).publicKey!));
    const secretTo = keep('to', await to.agree(b, (await from.se.describe(a)).publicKey!));
    const kekFrom = keep('from', await from.se.deriveKey({ ...spec, inputs: [secretFrom] }));
    const kekTo = keep('to', await to.deriveKey({ ...spec, inputs: [secretTo] }));
    const wrapped = await from.se.wrap(from.handle, kekFrom, new Uint8Array(0));
    const imported = await to.unwrap(kekTo, wrapped, new Uint8Array(0), { kind });
    if (imported === undefined) throw new Error('transferKey: the receiving Secure Environment could not unwrap the key');
    return imported;
  } finally {
    await destroyQuietly(from.se, ...made.from);
    await destroyQuietly(to, ...made.to);
  }
};
