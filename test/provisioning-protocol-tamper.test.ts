import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import type { CredentialKind } from '../domain/crypto/credential.ts';
import { leafPaths, tamper } from './crypto-fixtures.ts';
import { provision, provisioningWorld } from './provisioning-protocol.fixtures.ts';

type MessageName = 'hello' | 'challenge' | 'auth' | 'delivery' | 'receipt';
const ORDER: readonly MessageName[] = ['hello', 'challenge', 'auth', 'delivery', 'receipt'];

/**
 * Runs provisioning with one field of one message altered in transit and returns how it ended. Every alteration
 * must end the run with a typed protocol refusal before any outcome exists: at the receiving step, or (for a
 * field only the transcript covers) at the next proof check.
 */
const runTampered = async (bootstrapKind: CredentialKind, credentialKind: CredentialKind, target: MessageName, path: (string | number)[]) => {
  const world = await provisioningWorld({ bootstrapKind, seed: `tamper-${bootstrapKind}-${credentialKind}` });
  const session = await world.client.start({ credentialKind });
  const alter = <T>(name: MessageName, message: T): T => (name === target ? tamper(message, path) : message);
  try {
    const challenge = await world.ef.acceptHello(alter('hello', session.hello));
    const auth = await session.acceptChallenge(alter('challenge', challenge));
    const delivery = await world.ef.acceptAuth(alter('auth', auth));
    const { receipt } = await session.acceptDelivery(alter('delivery', delivery));
    await world.ef.acceptReceipt(alter('receipt', receipt));
    return { completed: true as const };
  } catch (error) {
    if (isCredenceError(error, 'protocol') && error.problem.code === 'protocol') return { completed: false as const, step: error.problem.step, reason: error.problem.reason };
    throw error;
  }
};

const COMBINATIONS: readonly [CredentialKind, CredentialKind][] = [
  ['psk256', 'psk256'],
  ['ed25519', 'p256'],
  ['p256', 'psk256'],
  ['psk256', 'ed25519'],
];

describe('remote provisioning: a byte flipped in any field of any message is refused', async () => {
  for (const [bootstrapKind, credentialKind] of COMBINATIONS) {
    const { messages } = await provision(await provisioningWorld({ bootstrapKind, seed: `tamper-${bootstrapKind}-${credentialKind}` }), credentialKind);
    for (const name of ORDER) {
      for (const path of leafPaths(messages[name])) {
        it(`${bootstrapKind} -> ${credentialKind}: ${name}.${path.join('.')}`, async () => {
          const result = await runTampered(bootstrapKind, credentialKind, name, path);
          expect(result.completed).toBe(false);
          // Refused where the altered message arrived, or at the very next step that checks a proof over it.
          const arrivedAt = ORDER.indexOf(name);
          const refusedAt = ORDER.indexOf((result as { step: string }).step.replace('provisioning.', '') as MessageName);
          expect(refusedAt === arrivedAt || refusedAt === arrivedAt + 1).toBe(true);
        });
      }
    }
  }
});
