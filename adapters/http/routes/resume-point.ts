import { resumePointNotInLog } from '../../../domain/positions.ts';
import type { Principal } from '../auth/access-control.ts';
import type { ServiceContext } from '../context.ts';
import { HttpProblem } from '../problems.ts';

/**
 * A resume point past the log's newest event (domain/positions.ts `resumePointNotInLog`), refused before anything is
 * read or taken over: 409 `resume_point_not_in_log`, naming the log's newest position. `restart` says how to start
 * again. GET /v1/events (`from` / Last-Event-ID: the pseudonymised stream would also fold identities only to the
 * head, serving later events with pseudonyms a rotation had replaced) and the compliance queries in log order
 * (`after`: a pager took an empty page past the head for "no more rows"; found in review).
 *
 * A scoped principal (SER-025) is not told the head, in the body or the detail: it counts the whole fleet's events,
 * which the scope exists to keep from it (review 56). What it can still infer is in docs/service.md.
 */
export const refuseResumePastTheHead = async (
  context: ServiceContext,
  from: unknown,
  restart: string,
  principal?: Pick<Principal, 'scope'>,
): Promise<void> => {
  if (typeof from !== 'bigint') return;
  const head = await context.credence.store.headPosition();
  const why = resumePointNotInLog(from, head);
  if (why === undefined) return;
  if (principal?.scope !== undefined) {
    throw new HttpProblem(409, 'resume_point_not_in_log', `cannot resume after ${from}: it is no position of this log (a store restored from an older backup, or a position never handed out); ${restart}`, {
      resumeAfter: from.toString(10),
    });
  }
  throw new HttpProblem(409, 'resume_point_not_in_log', `${why}; ${restart}`, {
    resumeAfter: from.toString(10),
    ...(head !== undefined ? { head: head.toString(10) } : {}),
  });
};
