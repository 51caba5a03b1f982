import { z } from 'zod';
import { MAX_ENTITY_BYTES } from '../../adapters/client/operator.ts';
import { MAX_CLOCK_SKEW_SECONDS } from '../../domain/signing/index.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { EXIT } from '../program.ts';
import { clientOf, type ServerTarget } from './options.ts';
import type { BeforeSending } from './submit.ts';

/**
 * Review 295: a rerun of `credence node enrol` (an idempotent provisioning script, a retry under a fresh command id)
 * appended another NodeEnrolled that changed nothing. The machines take it (review 307 took machines v12's refusal
 * out: it left every store that ever held one with a replay finding nothing clears, and such a script exiting 1), so
 * the CLI reads the node first and sends nothing when it is enrolled so already. It is a convenience, not a rule: a
 * read refused or failing sends the command as before, and another client enrolling the node between this read and
 * the send may still have a duplicate recorded, which is legal (POST /v1/commands records one too). With --command-id the
 * command is always sent (review 331): the server answers that id's outcome, a retry's as done before, an id another
 * command took as a refusal; read and skipped, it was `sent: false` and exit 0 whatever the id. It skips only while the
 * subscription still serves too (review 355): past its notAfter with the expiry not yet recorded, or terminated with
 * the cascade pending, the node still reads as enrolled so, but the server refuses the enrolment (409, subscriptionActive).
 */

/** The part of GET /v1/entities/node/{id} this reads; any other answer is no reason to skip the command. */
const EnrolledNode = z.looseObject({
  streamId: z.string().max(300),
  state: z.enum(['enrolled', 'associated']),
  revision: z.string().regex(/^\d{1,20}$/),
  context: z.looseObject({ subscriptionId: z.string(), cseId: z.string() }),
  broken: z.unknown().optional(),
});
export type EnrolledNode = z.infer<typeof EnrolledNode>;

/** The node as read when it is enrolled or associated under `subscriptionId` with `cseId`, else undefined. */
export const enrolledSoAlready = (entity: unknown, asked: { readonly subscriptionId: string; readonly cseId: string }): EnrolledNode | undefined => {
  const read = EnrolledNode.safeParse(entity);
  // A stream whose stored event its machine refuses is shown as applied: the server's engine decides on its own view.
  if (!read.success || read.data.broken !== undefined) return undefined;
  const { subscriptionId, cseId } = read.data.context;
  return subscriptionId === asked.subscriptionId && cseId === asked.cseId ? read.data : undefined;
};

/** The part of GET /v1/entities/subscription/{id} this reads (its context's times in epoch ms). */
const ActiveSubscription = z.looseObject({
  state: z.literal('active'),
  context: z.looseObject({ notBefore: z.number().int(), notAfter: z.number().int() }),
  broken: z.unknown().optional(),
});

/**
 * How long before its notAfter by this clock the subscription is no longer read as serving: the server judges by its
 * own clock, which may be as far apart as a signed request's (MAX_CLOCK_SKEW_SECONDS). Nearer the end the command is
 * sent, and the server decides; a duplicate enrolment there is legal, a refusal told as "nothing sent" was not.
 */
const CLOCK_MARGIN_MS = MAX_CLOCK_SKEW_SECONDS * 1000;

/**
 * Whether the subscription as read serves at `now` (epoch ms), as the machines judge an enrolment (subscriptionActive:
 * active and within [notBefore, notAfter)), CLOCK_MARGIN_MS before its notAfter. No margin at its notBefore: the node
 * was enrolled under it, so the server's clock has passed that already. Any other answer: it may not serve.
 */
export const subscriptionServes = (entity: unknown, now: number): boolean => {
  const read = ActiveSubscription.safeParse(entity);
  if (!read.success || read.data.broken !== undefined) return false;
  const { notBefore, notAfter } = read.data.context;
  return notBefore <= now && now + CLOCK_MARGIN_MS < notAfter;
};

const readEntity = async (target: ServerTarget, kind: 'node' | 'subscription', id: string): Promise<unknown> => {
  try {
    return await clientOf(target).entity(kind, id, MAX_ENTITY_BYTES);
  } catch {
    // Refused (a 404 for a node not registered, a 403) or failed: the command is sent, and its answer says what is so.
    return undefined;
  }
};

/**
 * For `node enrol`: says the node is enrolled so already and exits 0 without sending, or lets the command be sent.
 * With --json: `{sent: false, streamId, state, revision, subscriptionId, cseId, events: []}` (README, node enrol).
 */
export const enrolmentUnchanged =
  (data: Readonly<Record<string, unknown>>): BeforeSending =>
  async (io: Io, target: ServerTarget, asJson: boolean, commandId: string | undefined): Promise<number | undefined> => {
    if (commandId !== undefined) return undefined;
    const { nodeId, subscriptionId, cseId } = data;
    if (typeof nodeId !== 'string' || typeof subscriptionId !== 'string' || typeof cseId !== 'string') return undefined;
    const node = enrolledSoAlready(await readEntity(target, 'node', nodeId), { subscriptionId, cseId });
    if (node === undefined) return undefined;
    if (!subscriptionServes(await readEntity(target, 'subscription', subscriptionId), Date.now())) return undefined;
    io.out(
      asJson
        ? json({ sent: false, streamId: node.streamId, state: node.state, revision: node.revision, subscriptionId, cseId, events: [] })
        : printable(`node ${nodeId} is already enrolled under subscription ${subscriptionId} with CSE-ID ${cseId}; nothing sent`),
    );
    return EXIT.done;
  };
