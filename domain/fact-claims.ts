import { z } from 'zod';

/**
 * A fact claim: a marker a store without multi-stream conditions (EventStoreDB) appends to a fact stream, with the
 * expected revision the decision read, before it appends the decision itself (docs/eventstoredb.md, "Decisions and
 * their facts"). It is the moment the decision commits against that fact: replay judges the claimant's events
 * against the fact as it stood at its claim, and the claim moves the fact stream's revision so that a concurrent
 * change of the fact conflicts instead of slipping in unseen. It is not a lifecycle event: machines, projections
 * and integrator streams pass over it.
 */
export const FACT_CLAIM_TYPE = 'CredenceFactClaimed';

export const FactClaimData = z.strictObject({
  /** The stream the claiming decision appends to. */
  claimant: z.string().min(1).max(300),
  /** The claiming decision's command id. */
  commandId: z.string().min(1).max(200),
});
export type FactClaim = z.infer<typeof FactClaimData>;

export const isFactClaim = (record: { readonly type: string }): boolean => record.type === FACT_CLAIM_TYPE;

/** The claim a stored record carries; undefined for any other record or a malformed claim. */
export const factClaimOf = (record: { readonly type: string; readonly data: unknown }): FactClaim | undefined => {
  if (!isFactClaim(record)) return undefined;
  const parsed = FactClaimData.safeParse(record.data);
  return parsed.success ? parsed.data : undefined;
};
