import { FakeClock, MINUTE } from '../../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../../adapters/runtime/index.ts';
import { hmacSha256 } from '../../domain/crypto/index.ts';
import type { PseudonymKey } from '../../projections/pseudonyms/index.ts';
import { cmd, T0 } from './fleet.ts';

/** A fixed pseudonym key (HMAC-SHA256 under 32 bytes of 7s), so rebuilt pseudonyms equal the live ones. */
export const testKey: PseudonymKey = { prf: async (m) => hmacSha256(new Uint8Array(32).fill(7), m) };

/**
 * A settled instance whose pseudonyms rotate on association: three meters registered, enrolled, with credentials
 * and associations, then the `tail` commands; each command a minute after the last, the instance settled after each.
 */
export const settledPseudonymFleet = async (tail: readonly unknown[]): Promise<Credence> => {
  const clock = new FakeClock(T0);
  const c = openCredence({ location: { memory: true }, clock, pseudonyms: { key: testKey, policy: { default: { onAssociation: true } } } });
  const steps: unknown[] = [cmd.createSubscription()];
  for (const i of [1, 2, 3]) {
    steps.push(cmd.registerNode(`meter-${i}`), cmd.enrolNode(`meter-${i}`), cmd.issueCredential(`cred-${i}`, `meter-${i}`));
    steps.push(cmd.provisionCredential(`cred-${i}`), cmd.configureAssociation(`sa-${i}`, `cred-${i}`, `meter-${i}`), cmd.establishAssociation(`sa-${i}`));
  }
  steps.push(...tail);
  for (const step of steps) {
    clock.advance(MINUTE);
    await c.engine.execute(step);
    await c.settle();
  }
  return c;
};
