import { vi } from 'vitest';
import { EmbeddedSecureEnvironment } from '../../adapters/driven/secure-environment/index.ts';
import { requireHeldBy, requireServedOwner } from '../../adapters/driven/secure-environment/port-checks.ts';
import { LOG_KEY_OWNER } from '../../adapters/driven/transparency/secure-environment-signer.ts';
import type { KeyHandle } from '../../domain/ports/secure-environment.ts';

/**
 * The next call of `method` the service makes with a key of its own (not the transparency log's, which the live
 * runtime signs with meanwhile) fails with `fault(owner, handle)`; answers the handles it named. The spy is on the
 * embedded Secure Environment's prototype, so a simulated device's calls go through it too: install it after the
 * device made the message it posts, and restore it (vi.restoreAllMocks) before the device acts again.
 */
export const failNextServerCall = (method: 'sign' | 'agree' | 'verifyMac', fault: (owner: string, handle: KeyHandle) => Error): KeyHandle[] => {
  const named: KeyHandle[] = [];
  const real = EmbeddedSecureEnvironment.prototype[method] as (...args: unknown[]) => Promise<unknown>;
  vi.spyOn(EmbeddedSecureEnvironment.prototype, method).mockImplementation(function (this: EmbeddedSecureEnvironment, ...args: unknown[]) {
    const [owner, handle] = args as [string, KeyHandle];
    if (named.length === 0 && owner !== LOG_KEY_OWNER) {
      named.push(handle);
      return Promise.reject(fault(owner, handle));
    }
    return real.apply(this, args);
  } as never);
  return named;
};

const raisedBy = (check: () => void): Error => {
  try {
    check();
  } catch (error) {
    return error as Error;
  }
  throw new Error('the check refused nothing');
};

/** The Secure Environment's ownership refusal of `handle` to `owner` (another owner holds it), made by the port's own check. */
export const heldByAnother = (owner: string, handle: KeyHandle): Error => raisedBy(() => requireHeldBy(owner, handle, `${owner}-other`));

/** The Secure Environment's refusal of an owner it does not serve, made by the port's own check. */
export const ownerNotServed = (owner: string): Error => raisedBy(() => requireServedOwner(new Set([`${owner}-other`]), owner));
