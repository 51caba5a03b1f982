import type { FastifyReply } from 'fastify';
import type { ComplianceQueryName } from '../../../projections/compliance/index.ts';
import { PROCESS_MANAGER_ACTOR } from '../../../projections/cascade/index.ts';
import type { ServiceContext } from '../context.ts';
import { EVENTS_BEHIND_HEADER, readYourWritesInto, type ReadModelName } from './wire.ts';

/**
 * The queries whose rows include the cascade's work still to do: an association under a node just revoked is
 * `dangling` and its credential `expiring` until the cascade revokes them (review 272: 32 such rows answered with
 * `eventsBehind: 0`, read as findings). Their answers wait for the cascade too, and count it behind.
 */
const CASCADE_PENDING: ReadonlySet<ComplianceQueryName> = new Set(['dangling-associations', 'expiring']);

const READ_MODELS: readonly ReadModelName[] = ['audit', 'compliance'];
const WITH_CASCADE: readonly ReadModelName[] = [...READ_MODELS, 'cascade'];

/** How long such an answer waits, at most, for the cascade's reactions to reach the compliance read model. */
const SETTLE_MS = 2_000;
/** How many events past the head waited for are read for the cascade's reactions; more are taken as holding one. */
const READ_PAST = 1_000;

/** Whether the cascade recorded an event after `after` up to `through` (or there were too many to read). */
const cascadeRecordedBetween = async (context: ServiceContext, after: bigint, through: bigint): Promise<boolean> => {
  let read = 0;
  for await (const event of context.credence.store.readAll({ afterPosition: after, maxCount: READ_PAST })) {
    if (event.position > through) return false;
    const actor = event.metadata['actor'];
    if (typeof actor === 'object' && actor !== null && !Array.isArray(actor)) {
      const { id, role } = actor as Readonly<Record<string, unknown>>;
      if (id === PROCESS_MANAGER_ACTOR.id && role === PROCESS_MANAGER_ACTOR.role) return true;
    }
    read++;
  }
  return read >= READ_PAST;
};

/**
 * The compliance query's `eventsBehind` (and its header), after waiting (bounded) for the read models it reads: the
 * audit and compliance read models, and for the queries listing the cascade's work to come, the cascade too, and its
 * revocations of what was stored: the cascade having handled the head is not enough, as what it appended in reaction
 * (and its own reactions to that: a subscription's end, its nodes' enrolments, their credentials, their associations)
 * lies past it. So each round waits for all three to reach the head, and the answer is whole once no event the cascade
 * recorded lies past the head it waited for. Past the bound, the lag it still sees is said, at least 1.
 */
export const complianceEventsBehindInto = async (context: ServiceContext, reply: FastifyReply, name: ComplianceQueryName): Promise<number> => {
  if (!CASCADE_PENDING.has(name)) return readYourWritesInto(context, reply, READ_MODELS);
  const until = performance.now() + SETTLE_MS;
  for (;;) {
    const head = await context.credence.store.headPosition();
    // Waits for the head it reads itself, `head` or later: what lies between was handled by all three.
    const behind = await readYourWritesInto(context, reply, WITH_CASCADE);
    if (behind > 0 || head === undefined) return behind;
    const now = await context.credence.store.headPosition();
    if (now === undefined || now <= head || !(await cascadeRecordedBetween(context, head, now))) return 0;
    if (performance.now() >= until) {
      const lag = Math.max(1, context.live.lag(WITH_CASCADE).eventsBehind);
      reply.header(EVENTS_BEHIND_HEADER, String(lag));
      return lag;
    }
  }
};
