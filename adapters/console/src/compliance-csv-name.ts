/**
 * The name a compliance CSV is saved under: `credence-<query>.csv`, or for a cut answer (review 113) one ending in
 * `-partial`, with the `after` of the next page when the server names it. Expiring's cursor has a ':' (and its
 * credential id may have more), which Windows refuses in a file name and macOS shows as '/': the cursor is written
 * percent-encoded (':' as %3A), which every system keeps and which reads back exactly, where a '-' or '_' in its place
 * could not be told from the id's own.
 */
export const complianceCsvName = (query: string, answer: { readonly truncated: boolean; readonly nextAfter?: string | undefined }): string => {
  const next = answer.nextAfter !== undefined ? `-next-after-${encodeURIComponent(answer.nextAfter)}` : '';
  return `credence-${query}${answer.truncated ? `-partial${next}` : ''}.csv`;
};
