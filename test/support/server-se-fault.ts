import { expect, vi } from 'vitest';
import { EmbeddedSecureEnvironment } from '../../adapters/driven/secure-environment/index.ts';
import { pkcs11Problem } from '../../adapters/driven/secure-environment/pkcs11/module.ts';
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

/** A PKCS#11 `validation` about a key of the service's own, naming its handle: made without host derivation. */
export const hostKey = (_owner: string, handle: KeyHandle): Error =>
  pkcs11Problem('handle', 'host_key', `key ${handle} was made without x-derivation=host and stays in the token`);

/**
 * `answered` is the service's fault at a device step: 500 `internal` naming neither the handle the fault named nor
 * anything `hidden` matches, and the handle in the service's log at `loggedAtLeast` or above.
 */
export const expectServiceFault = (
  world: { readonly service: { logs(): string[] } },
  answered: { status: number; body: Record<string, unknown> },
  named: readonly string[],
  hidden: RegExp,
  loggedAtLeast: number,
): void => {
  expect(named).toHaveLength(1);
  expect(answered.status).toBe(500);
  expect(answered.body).toMatchObject({ status: 500, type: expect.stringMatching(/internal$/) });
  const text = JSON.stringify(answered.body);
  expect(text).not.toContain(named[0]);
  expect(text).not.toMatch(hidden);
  const logged = world.service.logs().filter((l) => l.includes(named[0]!)).map((l) => JSON.parse(l) as { level: number });
  expect(logged.length).toBeGreaterThan(0);
  expect(Math.max(...logged.map((l) => l.level))).toBeGreaterThanOrEqual(loggedAtLeast);
};
