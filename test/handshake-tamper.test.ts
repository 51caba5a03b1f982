import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import type { CredentialKind } from '../domain/crypto/credential.ts';
import { leafPaths, tamper } from './crypto-fixtures.ts';
import { associate, handshakeWorld } from './handshake.fixtures.ts';

type MessageName = 'hello' | 'challenge' | 'finish' | 'confirm';
const ORDER: readonly MessageName[] = ['hello', 'challenge', 'finish', 'confirm'];

/** Runs the handshake with one field of one message altered in transit; it must end in a typed protocol refusal. */
const runTampered = async (kind: CredentialKind, target: MessageName, path: (string | number)[]) => {
  const world = await handshakeWorld({ kind, seed: `tamper-${kind}` });
  const alter = <T>(name: MessageName, message: T): T => (name === target ? tamper(message, path) : message);
  try {
    const handshake = await world.registree.start({ lifetimeSeconds: 3600 });
    const challenge = await world.registrar.acceptHello(alter('hello', handshake.hello));
    const { finish } = await handshake.acceptChallenge(alter('challenge', challenge));
    const { confirm } = await world.registrar.acceptFinish(alter('finish', finish));
    // The Registree reports the association only here, once the Registrar's confirm has verified.
    await handshake.acceptConfirm(alter('confirm', confirm));
    return { completed: true as const };
  } catch (error) {
    if (isCredenceError(error, 'protocol') && error.problem.code === 'protocol') return { completed: false as const, step: error.problem.step };
    throw error;
  }
};

describe('association handshake: a byte flipped in any field of any message is refused', async () => {
  for (const kind of ['psk256', 'ed25519', 'p256'] as const) {
    const { messages } = await associate(await handshakeWorld({ kind, seed: `tamper-${kind}` }));
    for (const name of ORDER) {
      for (const path of leafPaths(messages[name])) {
        it(`${kind}: ${name}.${path.join('.')}`, async () => {
          const result = await runTampered(kind, name, path);
          expect(result.completed).toBe(false);
          const refusedAt = ORDER.indexOf((result as { step: string }).step.replace('association.', '') as MessageName);
          const arrivedAt = ORDER.indexOf(name);
          expect(refusedAt === arrivedAt || refusedAt === arrivedAt + 1).toBe(true);
        });
      }
    }
  }
});
