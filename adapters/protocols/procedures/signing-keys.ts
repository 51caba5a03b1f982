import { type KeyHandle } from '../../../domain/ports/index.ts';
import { discardNewKey } from './discard-new-key.ts';
import type { InfrastructureOptions } from './infrastructure-options.ts';

/** The Enrolment Function's and the Registrar CSE's signing keys, with the public keys devices pin. */
export interface SigningKeys {
  readonly kind: 'ed25519' | 'p256';
  readonly ef: KeyHandle;
  readonly registrar: KeyHandle;
  readonly efPublicKey: Uint8Array;
  readonly registrarPublicKey: Uint8Array;
}

const INFRA = 'infrastructure';

/** Reuses the signing keys of earlier runs (devices pin their public keys), making each only the first time. */
export const openSigningKeys = async (o: InfrastructureOptions): Promise<SigningKeys> => {
  const kind = o.signingKind ?? 'ed25519';
  const key = async (purpose: string): Promise<KeyHandle> => {
    const [existing] = o.registry.live(INFRA, purpose);
    if (existing !== undefined) return existing as KeyHandle;
    const handle = await o.se.generate(kind, { usage: 'sign' });
    try {
      o.registry.register(INFRA, handle, purpose);
    } catch (error) {
      // Unbound, the next start would make another: this one is destroyed, or owed (review 53).
      throw await discardNewKey(o.se, o.registry, { stream: INFRA, handle, purpose }, o.engine.clock.now(), error);
    }
    return handle;
  };
  const ef = await key('ef-signing');
  const registrar = await key('registrar-signing');
  const pub = async (h: KeyHandle) => (await o.se.describe(h)).publicKey!;
  return { kind, ef, registrar, efPublicKey: await pub(ef), registrarPublicKey: await pub(registrar) };
};
