/**
 * The error a scheduled round (expiry, pseudonym rotation) ends with when some of its items failed while the others
 * went on: what failed, said once the round is through, with the first failure as its cause.
 */
export const roundFailure = (summary: string, first: { readonly what: string; readonly error: unknown }): Error =>
  new Error(`${summary}; the first, ${first.what}: ${first.error instanceof Error ? first.error.message : String(first.error)}`, {
    cause: first.error,
  });
