/**
 * Issue 10, property-based fuzzing of both wire protocols: remote provisioning (node client <-> Enrolment Function,
 * five messages) and the association handshake (Registree <-> Registrar CSE: hello, challenge, finish, confirm). A legitimate run is captured as it happens and one
 * of its messages is altered in transit (structured mutations, random JSON, another message of the run, the same
 * step of an earlier run, or the message delivered twice); every receiving end, on either side, answers with a
 * value or a typed `protocol` refusal, never an untyped exception, and a run completes only when the message that
 * arrived means the same as the one sent. A third property feeds captured messages of any step of either protocol,
 * mutated, and random JSON straight to every receiving method.
 *
 * The protocol worlds (Secure Environments, keys, replay caches) are built once per file and shared by the runs of a
 * property: a whole property run is reproducible from the seed (their randomness is seeded too), while a shrunk
 * counterexample replays against a world that has moved on (its clock and replay cache). Settings: ./settings.ts.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { it } from '@fast-check/vitest';
import { beforeAll, describe } from 'vitest';
import type { CredentialKind } from '../../domain/crypto/credential.ts';
import type { CredenceError } from '../../domain/errors.ts';
import { associate, handshakeWorld, type HandshakeWorld } from '../handshake.fixtures.ts';
import { provision, provisioningWorld, type ProvisioningWorld } from '../provisioning-protocol.fixtures.ts';
import { anyInput, materialize, overTheWire } from './arbitraries.ts';
import { applyMutations, mutation, type Mutation } from './mutations.ts';
import { ending, fuzzParameters, SEED_NOTE, tally, timeoutFor, untyped, violated } from './settings.ts';

/** How the message at the target step is altered in transit. */
type Alteration =
  | { readonly kind: 'mutate'; readonly mutations: readonly Mutation[]; readonly wire: boolean }
  | { readonly kind: 'random'; readonly value: unknown }
  /** Another message of this run, sent so far (a confused or malicious peer). */
  | { readonly kind: 'swap'; readonly with: number }
  /** The message of the same step of the previous run on this world (a replay). */
  | { readonly kind: 'replayed' }
  /** Delivered as sent, then delivered again: the second delivery must be refused. */
  | { readonly kind: 'duplicate' };

/** One bit of one base64url field flipped, the format kept: the message reaches the proof and key checks. */
const flip = fc.record({ op: fc.constant('flipBit' as const), at: fc.nat(), byte: fc.nat(), bit: fc.nat({ max: 7 }) });

const alteration: fc.Arbitrary<Alteration> = fc.oneof(
  { weight: 3, arbitrary: flip.map((m) => ({ kind: 'mutate' as const, mutations: [m], wire: true })) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('mutate' as const), mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }), wire: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('random' as const), value: anyInput }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('swap' as const), with: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'replayed' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'duplicate' as const }) },
);

/** JSON.stringify recurses: an input it cannot take is compared as different. */
const wireForm = (value: unknown): unknown => {
  try {
    return overTheWire(value);
  } catch {
    return Symbol('not JSON');
  }
};

/** A refusal must be a `protocol` one; anything else reaching a protocol end is reported. */
const expectProtocolRefusal = (property: string, where: string, error: CredenceError): void => {
  if (error.problem.code !== 'protocol') violated(`${where} refused with ${error.problem.code}, not protocol: ${error.message.slice(0, 200)}`);
  tally(property, `protocol:${error.problem.code === 'protocol' ? error.problem.reason : '?'}`);
};

/**
 * Delivers the messages of one run, altering the one at `target`. Remembers what was sent (for swaps) and the
 * genuine messages (for the next run's replays); `altered` tells afterwards what arrived instead of what.
 */
const courier = (property: string, target: string, how: Alteration, previous: Map<string, unknown>) => {
  const sent: unknown[] = [];
  const genuine = new Map<string, unknown>();
  let altered: { readonly genuine: unknown; readonly arrived: unknown } | undefined;
  const alter = (name: string, message: unknown): unknown => {
    switch (how.kind) {
      case 'mutate': {
        const mutated = applyMutations(message, how.mutations);
        return how.wire ? (wireForm(mutated) as unknown) : mutated;
      }
      case 'random':
        return materialize(how.value);
      case 'swap':
        return sent.length === 0 ? materialize(undefined) : sent[how.with % sent.length];
      case 'replayed':
        return previous.get(name);
      case 'duplicate':
        return message;
    }
  };
  const deliver = async <R>(name: string, message: unknown, receive: (m: unknown) => Promise<R>): Promise<R> => {
    genuine.set(name, message);
    if (name !== target) {
      sent.push(message);
      return receive(message);
    }
    if (how.kind === 'duplicate') {
      const first = await receive(message);
      const again = await ending(() => receive(structuredClone(message)));
      if (again.kind === 'untyped') untyped(`${property}: ${name} delivered twice`, again.error);
      if (again.kind === 'value') violated(`${property}: ${name} delivered twice was accepted twice`);
      if (again.kind === 'refused') expectProtocolRefusal(property, `${name} delivered twice`, again.error);
      sent.push(message);
      return first;
    }
    const arrived = alter(name, message);
    altered = { genuine: message, arrived };
    sent.push(arrived);
    return receive(arrived);
  };
  const finish = () => {
    for (const [name, message] of genuine) previous.set(name, message);
  };
  return { deliver, altered: () => altered, finish };
};

/** How a run ended, checked: untyped exceptions and non-protocol refusals fail; a completed run is checked by `completed`. */
const judge = async (property: string, run: () => Promise<void>, altered: () => { genuine: unknown; arrived: unknown } | undefined): Promise<void> => {
  const ended = await ending(run);
  if (ended.kind === 'untyped') untyped(property, ended.error);
  if (ended.kind === 'refused') expectProtocolRefusal(property, property, ended.error);
  if (ended.kind === 'value') {
    const change = altered();
    if (change !== undefined && !isDeepStrictEqual(wireForm(change.arrived), wireForm(change.genuine))) {
      violated(`${property}: a run completed although a message was altered: ${JSON.stringify(wireForm(change.arrived))?.slice(0, 400)}`);
    }
    tally(property, 'completed');
  }
};

// ------------------------------------------------------------------------------------------- remote provisioning

const PROVISIONING = ['hello', 'challenge', 'auth', 'delivery', 'receipt'] as const;
const PROVISIONING_KINDS: readonly (readonly [CredentialKind, CredentialKind])[] = [
  ['psk256', 'psk256'],
  ['ed25519', 'p256'],
  ['p256', 'ed25519'],
  ['psk256', 'ed25519'],
];
/** Longer than either responder's session timeout: each run starts with the previous run's leftovers expired. */
const BETWEEN_RUNS_MS = 121_000;

const provisioningWorlds: { world: ProvisioningWorld; credentialKind: CredentialKind; previous: Map<string, unknown> }[] = [];
const handshakeWorlds: { world: HandshakeWorld; previous: Map<string, unknown> }[] = [];
/** Genuine messages of every step of both protocols, captured once: the corpus the third property mutates. */
const corpus: unknown[] = [];

beforeAll(async () => {
  for (const [bootstrapKind, credentialKind] of PROVISIONING_KINDS) {
    const world = await provisioningWorld({ bootstrapKind, seed: `fuzz-${bootstrapKind}-${credentialKind}` });
    const { messages } = await provision(world, credentialKind);
    corpus.push(...Object.values(messages));
    provisioningWorlds.push({ world, credentialKind, previous: new Map(Object.entries(messages)) });
  }
  for (const kind of ['psk256', 'ed25519', 'p256'] as const) {
    const world = await handshakeWorld({ kind, seed: `fuzz-${kind}` });
    const { messages } = await associate(world);
    corpus.push(...Object.values(messages));
    handshakeWorlds.push({ world, previous: new Map(Object.entries(messages)) });
  }
}, 120_000);

const provisionAltered = async (worldIndex: number, target: number, how: Alteration): Promise<void> => {
  const property = 'provisioning run';
  const { world, credentialKind, previous } = provisioningWorlds[worldIndex % provisioningWorlds.length]!;
  world.clock.advance(BETWEEN_RUNS_MS);
  const c = courier(property, PROVISIONING[target % PROVISIONING.length]!, how, previous);
  await judge(
    property,
    async () => {
      const session = await world.client.start({ credentialKind });
      const challenge = await c.deliver('hello', session.hello, (m) => world.ef.acceptHello(m));
      const auth = await c.deliver('challenge', challenge, (m) => session.acceptChallenge(m));
      const delivery = await c.deliver('auth', auth, (m) => world.ef.acceptAuth(m));
      const { receipt, result } = await c.deliver('delivery', delivery, (m) => session.acceptDelivery(m));
      const outcome = await c.deliver('receipt', receipt, (m) => world.ef.acceptReceipt(m));
      // Both ends must agree on what was provisioned.
      if (!isDeepStrictEqual(wireForm(result.credential), wireForm(outcome.credential)) || result.transcriptHash !== outcome.transcriptHash) {
        violated(`${property}: the node and the Enrolment Function completed with different credentials or transcripts`);
      }
    },
    c.altered,
  );
  c.finish();
};

// --------------------------------------------------------------------------------------- association handshake

const HANDSHAKE = ['hello', 'challenge', 'finish', 'confirm'] as const;

/** What both ends report of one association: everything but each end's own key handles and side (association-messages.ts). */
const sharedPart = (outcome: object): unknown => wireForm({ ...outcome, side: undefined, sessionKeys: undefined, sessionKeyHandle: undefined });

const associateAltered = async (worldIndex: number, target: number, how: Alteration): Promise<void> => {
  const property = 'handshake run';
  const { world, previous } = handshakeWorlds[worldIndex % handshakeWorlds.length]!;
  world.clock.advance(BETWEEN_RUNS_MS);
  const c = courier(property, HANDSHAKE[target % HANDSHAKE.length]!, how, previous);
  await judge(
    property,
    async () => {
      const handshake = await world.registree.start({ lifetimeSeconds: 3600 });
      const challenge = await c.deliver('hello', handshake.hello, (m) => world.registrar.acceptHello(m));
      const { finish } = await c.deliver('challenge', challenge, (m) => handshake.acceptChallenge(m));
      const { confirm, outcome: registrarOutcome } = await c.deliver('finish', finish, (m) => world.registrar.acceptFinish(m));
      const registreeOutcome = await c.deliver('confirm', confirm, (m) => handshake.acceptConfirm(m));
      if (!isDeepStrictEqual(sharedPart(registreeOutcome), sharedPart(registrarOutcome))) {
        violated(`${property}: the Registree and the Registrar completed with different associations`);
      }
    },
    c.altered,
  );
  c.finish();
};

// ---------------------------------------------------------------------------------------------- every receiver

/** Every method a protocol end receives a message with (on a fresh run where the method needs one), and its message type. */
const RECEIVERS: readonly { readonly name: string; readonly type: string; readonly receive: (m: unknown) => Promise<unknown> }[] = [
  { name: 'EnrolmentFunction.acceptHello', type: 'provisioning.hello', receive: (m) => provisioningWorlds[0]!.world.ef.acceptHello(m) },
  { name: 'EnrolmentFunction.acceptAuth', type: 'provisioning.auth', receive: (m) => provisioningWorlds[1]!.world.ef.acceptAuth(m) },
  { name: 'EnrolmentFunction.acceptReceipt', type: 'provisioning.receipt', receive: (m) => provisioningWorlds[2]!.world.ef.acceptReceipt(m) },
  {
    name: 'NodeProvisioningSession.acceptChallenge',
    type: 'provisioning.challenge',
    receive: async (m) => (await provisioningWorlds[1]!.world.client.start({ credentialKind: 'p256' })).acceptChallenge(m),
  },
  { name: 'Registrar.acceptHello', type: 'association.hello', receive: (m) => handshakeWorlds[1]!.world.registrar.acceptHello(m) },
  { name: 'Registrar.acceptFinish', type: 'association.finish', receive: (m) => handshakeWorlds[0]!.world.registrar.acceptFinish(m) },
  {
    name: 'RegistreeHandshake.acceptChallenge',
    type: 'association.challenge',
    receive: async (m) => (await handshakeWorlds[2]!.world.registree.start({ lifetimeSeconds: 3600 })).acceptChallenge(m),
  },
];

/** A captured message, mostly of the type the receiver expects (else of any step of either protocol), mutated; or anything. */
const anyMessage = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ from: fc.nat(), ofItsType: fc.boolean(), mutations: fc.array(mutation, { maxLength: 4 }), wire: fc.boolean() }),
  },
  { weight: 1, arbitrary: anyInput.map((value) => ({ value })) },
);

const typeOf = (m: unknown): unknown => (typeof m === 'object' && m !== null ? (m as { type?: unknown }).type : undefined);

const receiveAnything = async (
  receiver: number,
  message: { from: number; ofItsType: boolean; mutations: readonly Mutation[]; wire: boolean } | { value: unknown },
): Promise<void> => {
  const { name, type, receive } = RECEIVERS[receiver % RECEIVERS.length]!;
  for (const { world } of [...provisioningWorlds, ...handshakeWorlds]) world.clock.advance(1_000);
  const ofItsType = corpus.filter((m) => typeOf(m) === type);
  const pool = 'value' in message || !message.ofItsType || ofItsType.length === 0 ? corpus : ofItsType;
  const input =
    'value' in message
      ? materialize(message.value)
      : ((m) => (message.wire ? wireForm(m) : m))(applyMutations(pool[message.from % pool.length], message.mutations));
  const ended = await ending(() => receive(input));
  if (ended.kind === 'untyped') untyped(name, ended.error);
  if (ended.kind === 'refused') expectProtocolRefusal('any receiver', name, ended.error);
  if (ended.kind === 'value') tally('any receiver', 'answered');
};

describe('fuzzing the provisioning and association protocols', () => {
  const ONE_RUN = 1;
  it.prop([fc.nat(), fc.nat(), alteration], fuzzParameters(ONE_RUN))(
    `remote provisioning with one message altered in transit ends in a typed protocol refusal, or completes only if the message means the same (${SEED_NOTE})`,
    provisionAltered,
    timeoutFor(ONE_RUN, 400),
  );

  it.prop([fc.nat(), fc.nat(), alteration], fuzzParameters(ONE_RUN))(
    `the association handshake with one message altered in transit ends in a typed protocol refusal, or completes only if the message means the same (${SEED_NOTE})`,
    associateAltered,
    timeoutFor(ONE_RUN, 300),
  );

  const ANY = 1.5;
  it.prop([fc.nat(), anyMessage], fuzzParameters(ANY))(
    `every receiving method of either end answers any message, mutated or random, with a value or a typed protocol refusal (${SEED_NOTE})`,
    receiveAnything,
    timeoutFor(ANY, 200),
  );
});
