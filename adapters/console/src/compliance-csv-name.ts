/**
 * The name a compliance CSV is saved under: `credence-<query>.csv`; for an answer from read models behind the store
 * (review 152) `-behind-<N>` follows the query's name, N the events they had not handled (`-behind-<N>-or-more` when the
 * server's count stopped at its limit, review 416), and for a cut answer
 * (review 113) `-partial` comes last, with the `after` of the next page when the server names it. Expiring's cursor
 * has a ':' (and its credential id may have more), which Windows refuses in a file name and macOS shows as '/': the
 * cursor is written percent-encoded (':' as %3A), which every system keeps and which reads back exactly, where a '-'
 * or '_' in its place could not be told from the id's own. It comes last, so that no other part is read as the id's.
 */
export const complianceCsvName = (
  query: string,
  answer: {
    readonly truncated: boolean;
    readonly nextAfter?: string | undefined;
    readonly eventsBehind?: number | undefined;
    readonly eventsBehindAtLeast?: boolean | undefined;
  },
): string => {
  const behind = answer.eventsBehind !== undefined && answer.eventsBehind > 0
    ? `-behind-${answer.eventsBehind}${answer.eventsBehindAtLeast === true ? '-or-more' : ''}`
    : '';
  const next = answer.nextAfter !== undefined ? `-next-after-${encodeURIComponent(answer.nextAfter)}` : '';
  return `credence-${query}${behind}${answer.truncated ? `-partial${next}` : ''}.csv`;
};
