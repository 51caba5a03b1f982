/**
 * What the document says of a parameter beyond its schema (review 305: only docs/service.md said that a date is that
 * day's 00:00 UTC and that `to` is excluded; `by`, what a revocations window goes by).
 */
const A_DATE = "a date alone is that day's 00:00 UTC; a date-time takes its offset (`+` sent as `%2B`)";
export const DESCRIBED: Readonly<Partial<Record<string, string>>> = {
  from: `revocations, actions: the window's start, included; ${A_DATE}`,
  to: `revocations, actions: the window's end, excluded; ${A_DATE}`,
  now: `expiring: the instant the window (now, now + days) starts from (default: the server's clock); ${A_DATE}`,
  by:
    'revocations: what `from`, `to` and order=newest go by: `occurred` (the default), when each revocation took effect, dated back for a ' +
    "rotation's handover or a lapse recorded late, so a past window can gain a revocation recorded late; `recorded`, when each was " +
    'recorded, a window the read models have passed (`eventsBehind` 0 past its `to`) never gaining one: for incremental exports',
};
