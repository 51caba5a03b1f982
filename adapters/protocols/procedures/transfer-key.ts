import { type OwnedSecureEnvironment } from '../../../domain/ports/index.ts';
import { type KeyHandle } from '../../../domain/ports/index.ts';

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
  const a = await from.se.generate('x25519', { ephemeral: true });
  const b = await to.generate('x25519', { ephemeral: true });
  const spec = { salt: new Uint8Array(32), info: TRANSPORT_INFO, kind: 'session256' as const, ephemeral: true };
  const kekFrom = await from.se.deriveKey({
    ...spec,
    inputs: [await from.se.agree(a, (await to.describe(b)).publicKey!)],
  });
  const kekTo = await to.deriveKey({
    ...spec,
    inputs: [await to.agree(b, (await from.se.describe(a)).publicKey!)],
  });
  const { kind } = await from.se.describe(from.handle);
  if (kind !== 'psk256' && kind !== 'session256') throw new TypeError(`transferKey: handle is a ${kind} key; only symmetric keys travel`);
  const wrapped = await from.se.wrap(from.handle, kekFrom, new Uint8Array(0));
  const imported = await to.unwrap(kekTo, wrapped, new Uint8Array(0), { kind });
  for (const [se, handles] of [[from.se, [a, kekFrom]], [to, [b, kekTo]]] as const) {
    for (const h of handles) await se.destroy(h);
  }
  if (imported === undefined) throw new Error('transferKey: the receiving Secure Environment could not unwrap the key');
  return imported;
};
