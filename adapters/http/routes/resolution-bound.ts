import { StreamLanes } from '../../engine/index.ts';
import { streamIdOf } from '../../../domain/streams.ts';
import { resolutionsBy } from '../../../projections/pseudonyms/index.ts';
import type { ServiceContext } from '../context.ts';
import { HttpProblem } from '../problems.ts';
import { lengthBeyond } from './entity-bound.ts';
import { isResolutionBy } from './pseudonym-reads.ts';

/** How long a count waits, at most, for the pseudonym directory to reach the store's head (read-your-writes). */
const DIRECTORY_WAIT_MS = 1_000;

/**
 * The resolutions of `pseudonym` recorded by `auditor`, counted up to `limit`. Asked of the directory's indexed table,
 * not of the stream: reading the stream to count it was the cost the bound exists to refuse. A count that has
 * reached the limit is final (it only grows); a lower one counts only once the directory has handled everything
 * stored when asked, since the caller holds this auditor's turn, so a resolution of theirs just recorded is stored by
 * then and must count. The table keeps the actor's id and not its role: the engine records a PseudonymResolved for
 * the auditor role only (COMMAND_CATALOG, admission.ts), so on the stream the id alone picks the same events.
 * Without a directory, or with one that does not get there in time, counted on the stream's first `maxEntityEvents`
 * events: the stream bound refuses a resolution of any longer stream whatever this count says, so that read decides
 * and never takes the whole of a long stream.
 */
const resolutionsOf = async (context: ServiceContext, pseudonym: string, auditor: string, limit: number): Promise<number> => {
  const { credence, live } = context;
  if (credence.pseudonyms !== undefined) {
    const counted = resolutionsBy(credence.readModels, pseudonym, auditor, limit);
    if (counted >= limit) return counted;
    const head = await credence.store.headPosition();
    if (head === undefined || (await live.caughtUp(head, DIRECTORY_WAIT_MS, ['pseudonyms']))) {
      return resolutionsBy(credence.readModels, pseudonym, auditor, limit);
    }
  }
  const events = await credence.store.readStream(streamIdOf('pseudonym', pseudonym), { maxCount: context.limits.maxEntityEvents });
  return events.filter((event) => isResolutionBy(event, auditor)).length;
};

/** 409 `resolution_limit` once `auditor` has recorded `limits.maxResolutionsPerPseudonym` resolutions of `pseudonym`. */
const refusePastAuditorLimit = async (context: ServiceContext, pseudonym: string, auditor: string): Promise<void> => {
  const limit = context.limits.maxResolutionsPerPseudonym;
  if ((await resolutionsOf(context, pseudonym, auditor, limit)) < limit) return;
  throw new HttpProblem(
    409,
    'resolution_limit',
    `${auditor} has recorded ${limit} resolutions of ${pseudonym}, the most one auditor may (limits.maxResolutionsPerPseudonym): ` +
      `its node is already yours to read (GET /v1/entities/pseudonym/${pseudonym}); nothing was recorded`,
    { limit },
  );
};

/**
 * 409 `pseudonym_too_long` once the pseudonym's stream holds `limits.maxEntityEvents` events, whichever auditor asks:
 * the per-auditor bound alone leaves the stream unbounded, since an admin mints auditor subjects without number. With
 * it the stream never outgrows what the whole-stream reads of it answer (entity-bound.ts), the engine's included.
 * Its length is found with one-event reads (`lengthBeyond`), never by reading it. Records, not lifecycle events as the
 * whole-stream reads count (review 172): no decision reads a pseudonym as a fact (machines/facts.ts), so its stream
 * holds no fact claims and the two are the same, and a stream held to this many records is read whole under both bounds.
 */
const refuseFullStream = async (context: ServiceContext, pseudonym: string): Promise<void> => {
  const maxEvents = context.limits.maxEntityEvents;
  const streamId = streamIdOf('pseudonym', pseudonym);
  const events = await lengthBeyond(context.credence.store, streamId, maxEvents - 1);
  if (events === undefined) return;
  throw new HttpProblem(
    409,
    'pseudonym_too_long',
    `${streamId} holds ${events} events, the most a pseudonym's stream may (limits.maxEntityEvents), so it records no more ` +
      `resolutions; nothing was recorded. An auditor who resolved ${pseudonym} before reads its node (GET /v1/entities/pseudonym/${pseudonym}); ` +
      `the node's later pseudonyms are streams of their own; an operator can raise limits.maxEntityEvents`,
    { streamId, events, maxEvents },
  );
};

/**
 * The bounds on resolutions of one pseudonym (SER-001, SER-025). Each is a PseudonymResolved on the pseudonym's stream,
 * which the engine and every read of the pseudonym read whole: found in review, an auditor appended some 20,000
 * within the rate limit in 3.5 minutes, and with one auditor bounded, more auditor subjects did the same. Protection,
 * not lifecycle legality, so it is judged here and not in the machine. A repeated `commandId` records nothing and is
 * let through, so a client retrying its last resolution still gets its answer. One auditor's checks and resolutions
 * of a pseudonym run one at a time in this process, and so do the stream's check and the resolution that follows
 * it for all auditors, so concurrent requests cannot each see room for one more.
 */
export const resolutionBound = (context: ServiceContext) => {
  // Keyed lanes, as the engine runs one stream's commands: one (pseudonym, auditor), then one pseudonym, at a time.
  const byAuditor = new StreamLanes();
  const byPseudonym = new StreamLanes();
  return <T>(pseudonym: string, auditor: string, commandId: string | undefined, resolve: () => Promise<T>): Promise<T> =>
    byAuditor.run(`${pseudonym}\u0000${auditor}`, async () => {
      const streamId = streamIdOf('pseudonym', pseudonym);
      if (commandId !== undefined && (await context.credence.store.readCommand(streamId, commandId)).length > 0) return resolve();
      await refusePastAuditorLimit(context, pseudonym, auditor);
      return byPseudonym.run(pseudonym, async () => {
        await refuseFullStream(context, pseudonym);
        return resolve();
      });
    });
};
