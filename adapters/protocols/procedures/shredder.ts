import type { Projection } from '../../../projections/runtime/index.ts';
import { type OwnedSecureEnvironment } from '../../../domain/ports/index.ts';
import { type KeyHandle } from '../../../domain/ports/index.ts';
import { isCredenceError } from '../../../domain/errors.ts';
import type { KeyRegistry } from './key-registry.ts';

const ENDINGS = ['CredentialRevoked', 'CredentialExpired', 'AssociationRevoked', 'AssociationExpired'] as const;

/**
 * Crypto-shredding (seed 004; SER-010): when a credential or an association ends, the Secure Environment
 * destroys every key the infrastructure held for it, so nothing can use it again even with the database file.
 * Idempotent: a destroyed handle is marked, and destroying an already destroyed key is quietly a no-op.
 */
export const keyShredder = (se: OwnedSecureEnvironment, registry: KeyRegistry, now: () => Date): Projection => ({
  name: 'key-shredder',
  eventTypes: ENDINGS,
  setup: () => {},
  // The registry is not rebuilt from events (handles are not in events); destroyed keys stay destroyed.
  reset: () => {},
  async react(e) {
    for (const handle of registry.live(e.record.streamId)) {
      try {
        await se.destroy(handle as KeyHandle);
      } catch (error) {
        // Already gone (destroyed before a crash, say) is the goal state; anything else must surface.
        if (!isCredenceError(error, 'not_found')) throw error;
      }
      registry.markDestroyed(e.record.streamId, handle, now());
    }
  },
});
