import { resumePointNotInLog } from '../../../domain/positions.ts';
import type { ServiceContext } from '../context.ts';
import { HttpProblem } from '../problems.ts';

/**
 * A resume point past the log's newest event (domain/positions.ts `resumePointNotInLog`), refused before anything is
 * read or taken over: 409 `resume_point_not_in_log`, naming the log's newest position. `restart` says how to start
 * again. GET /v1/events (`from` / Last-Event-ID: the pseudonymised stream would also fold identities only to the
 * head, serving later events with pseudonyms a rotation had replaced) and the compliance queries in log order
 * (`after`: a pager took an empty page past the head for "no more rows"; found in review).
 */
export const refuseResumePastTheHead = async (context: ServiceContext, from: unknown, restart: string): Promise<void> => {
  if (typeof from !== 'bigint') return;
  const head = await context.credence.store.headPosition();
  const why = resumePointNotInLog(from, head);
  if (why === undefined) return;
  throw new HttpProblem(409, 'resume_point_not_in_log', `${why}; ${restart}`, {
    resumeAfter: from.toString(10),
    ...(head !== undefined ? { head: head.toString(10) } : {}),
  });
};
