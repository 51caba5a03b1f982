import { z } from 'zod';
import { MAX_ENTITY_BYTES } from '../../adapters/client/operator.ts';
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
 * command took as a refusal; read and skipped, it was `sent: false` and exit 0 whatever the id.
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

const readNode = async (target: ServerTarget, nodeId: string): Promise<unknown> => {
  try {
    return await clientOf(target).entity('node', nodeId, MAX_ENTITY_BYTES);
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
    const node = enrolledSoAlready(await readNode(target, nodeId), { subscriptionId, cseId });
    if (node === undefined) return undefined;
    io.out(
      asJson
        ? json({ sent: false, streamId: node.streamId, state: node.state, revision: node.revision, subscriptionId, cseId, events: [] })
        : printable(`node ${nodeId} is already enrolled under subscription ${subscriptionId} with CSE-ID ${cseId}; nothing sent`),
    );
    return EXIT.done;
  };
