/**
 * Issue 10 item 3: every message either protocol end receives, with any base64url field replaced by something
 * malformed (too short, not base64url, empty, 1 MB, a deeply nested object), ends in a typed `protocol` refusal,
 * never an exception (the p256 delivery with `credential.publicKey: "AAAA"` threw a RangeError).
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import type { CredentialKind } from '../domain/crypto/credential.ts';
import { tryFromBase64url } from '../domain/crypto/base64url.ts';
import { leafPaths } from './crypto-fixtures.ts';
import { associate, handshakeWorld, type HandshakeWorld } from './handshake.fixtures.ts';
import { provision, provisioningWorld, type ProvisioningWorld } from './provisioning-protocol.fixtures.ts';

const nested = (levels: number): unknown => {
  let value: unknown = 'AAAA';
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
};

const MALFORMED: readonly (readonly [string, unknown])[] = [
  ['"AAAA"', 'AAAA'],
  ['"!!!"', '!!!'],
  ['""', ''],
  ['a 1 MB string', 'A'.repeat(1024 * 1024)],
  ['a 1,500-level object', nested(1_500)],
];

/** Nonces, keys, proofs, session ids: long strings that decode as base64url (fingerprints and instants hold ':'). */
const base64urlPaths = (message: unknown): (string | number)[][] =>
  leafPaths(message).filter((path) => {
    const value = path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], message);
    return typeof value === 'string' && value.length >= 16 && !value.includes(':') && tryFromBase64url(value) !== undefined;
  });

const withValue = <T>(message: T, path: readonly (string | number)[], value: unknown): T => {
  const copy = structuredClone(message) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  parent[path[path.length - 1]!] = value;
  return copy as T;
};

/** How a run ended: completed, or the error it was refused with (anything but a CredenceError is a bug here). */
const outcome = async (run: () => Promise<unknown>): Promise<unknown> => {
  try {
    await run();
    return 'completed';
  } catch (error) {
    return error;
  }
};

const expectProtocolRefusal = (ended: unknown, variant: string): void => {
  const seen = isCredenceError(ended) ? `${ended.problem.code}: ${ended.message.slice(0, 200)}` : String(ended).slice(0, 200);
  expect(isCredenceError(ended, 'protocol'), `${variant} ended in ${seen}`).toBe(true);
};

type ProvisioningMessage = 'hello' | 'challenge' | 'auth' | 'delivery' | 'receipt';

const provisionAltered = (world: ProvisioningWorld, credentialKind: CredentialKind, target: ProvisioningMessage, alter: <T>(m: T) => T) =>
  outcome(async () => {
    const at = <T>(name: ProvisioningMessage, message: T): T => (name === target ? alter(message) : message);
    const session = await world.client.start({ credentialKind });
    const challenge = await world.ef.acceptHello(at('hello', session.hello));
    const auth = await session.acceptChallenge(at('challenge', challenge));
    const delivery = await world.ef.acceptAuth(at('auth', auth));
    const { receipt } = await session.acceptDelivery(at('delivery', delivery));
    await world.ef.acceptReceipt(at('receipt', receipt));
  });

describe('remote provisioning: a malformed base64url field in any message is a protocol refusal', async () => {
  const combinations: readonly [CredentialKind, CredentialKind][] = [
    ['psk256', 'psk256'],
    ['ed25519', 'p256'],
    ['p256', 'ed25519'],
  ];
  for (const [bootstrapKind, credentialKind] of combinations) {
    const world = await provisioningWorld({ bootstrapKind, seed: `malformed-${bootstrapKind}-${credentialKind}` });
    const { messages } = await provision(world, credentialKind);
    for (const name of ['hello', 'challenge', 'auth', 'delivery', 'receipt'] as const) {
      for (const path of base64urlPaths(messages[name])) {
        it(`${bootstrapKind} -> ${credentialKind}: ${name}.${path.join('.')}`, async () => {
          for (const [variant, value] of MALFORMED) {
            expectProtocolRefusal(await provisionAltered(world, credentialKind, name, (m) => withValue(m, path, value)), variant);
          }
        });
      }
    }
  }
});

type HandshakeMessage = 'hello' | 'challenge' | 'finish' | 'confirm';

const associateAltered = (world: HandshakeWorld, target: HandshakeMessage, alter: <T>(m: T) => T) =>
  outcome(async () => {
    const at = <T>(name: HandshakeMessage, message: T): T => (name === target ? alter(message) : message);
    const handshake = await world.registree.start({ lifetimeSeconds: 3600 });
    const challenge = await world.registrar.acceptHello(at('hello', handshake.hello));
    const { finish } = await handshake.acceptChallenge(at('challenge', challenge));
    const { confirm } = await world.registrar.acceptFinish(at('finish', finish));
    await handshake.acceptConfirm(at('confirm', confirm));
  });

describe('association handshake: a malformed base64url field in any message is a protocol refusal', async () => {
  for (const kind of ['psk256', 'ed25519', 'p256'] as const) {
    const world = await handshakeWorld({ kind, seed: `malformed-${kind}` });
    const { messages } = await associate(world);
    for (const name of ['hello', 'challenge', 'finish', 'confirm'] as const) {
      for (const path of base64urlPaths(messages[name])) {
        it(`${kind}: ${name}.${path.join('.')}`, async () => {
          for (const [variant, value] of MALFORMED) {
            expectProtocolRefusal(await associateAltered(world, name, (m) => withValue(m, path, value)), variant);
          }
        });
      }
    }
  }
});

it('the reported case: a p256 delivery whose credential.publicKey is "AAAA" or "!!!" is refused as malformed', async () => {
  const world = await provisioningWorld({ bootstrapKind: 'psk256', seed: 'malformed-reported' });
  for (const publicKey of ['AAAA', '!!!']) {
    const ended = await provisionAltered(world, 'p256', 'delivery', (m) => withValue(m, ['credential', 'publicKey'], publicKey));
    expect(isCredenceError(ended, 'protocol') && ended.problem).toMatchObject({ step: 'provisioning.delivery', reason: 'malformed' });
  }
});
