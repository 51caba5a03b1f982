/**
 * How long a replay finding's reason may grow, and how one naming the facts with a broken history it read is worded
 * within it. Review 259: a refusal appended every "it depends on …" of its broken facts, each quoting that fact's own
 * reason with all of its dependencies in turn, 6,909 characters on an upgraded folder, past the 4,000 the client
 * reads (adapters/client/answers.ts), so `credence state` and `credence history --server` failed on the very entity
 * docs/service.md tells operators to inspect. Both replays (verifier.ts, entity.ts) bound every reason here.
 */

/**
 * The longest reason a finding gives. The client reads twice this (adapters/client/answers.ts), the console 4,096:
 * room for a pseudonym's reason as told (replay-findings-told.ts words each named fact it hides in ~100 characters).
 */
export const FINDING_REASON_MAX = 2_000;
/** Facts with a broken history a reason names; the others are counted. Each is the finding of its own replay. */
export const BROKEN_FACTS_NAMED = 5;
/** A broken fact's own reason, as quoted: the refusal that broke it, not what it depends on in turn. */
const QUOTED_MAX = 400;
/** Room kept for the count of broken facts not named. */
const COUNT_ROOM = 80;
/** How entity.ts joins a refusal and its broken facts (and what adapters/http/routes/replay-findings-told.ts reads). */
const DEPENDS = '; it depends on ';

const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** Any finding's reason, cut at FINDING_REASON_MAX (a stored record's issues or type can be long). */
export const boundedReason = (reason: string): string => clip(reason, FINDING_REASON_MAX);

/** A machine's refusal, cut at half the bound, so that both replays word it alike with room left for its broken facts. */
export const boundedRefusal = (refusal: string): string => clip(refusal, FINDING_REASON_MAX / 2);

/**
 * A fact's finding as a reason reading it quotes it: the refusal alone, cut at QUOTED_MAX, and said to depend on a
 * broken history in turn where it does (which ones: that fact's own replay). Quoting it whole nested every fact's
 * reason in the next, without bound.
 */
export const quotedFinding = (reason: string): string => {
  const at = reason.indexOf(DEPENDS);
  return at < 0 ? clip(reason, QUOTED_MAX) : `${clip(reason.slice(0, at), QUOTED_MAX)} (itself reading a fact with a broken history)`;
};

/**
 * A refusal and the facts with a broken history the refused event read: the first BROKEN_FACTS_NAMED that fit within
 * FINDING_REASON_MAX named ("it depends on <stream> has a broken history at position <p>: <its refusal>"), the
 * others counted. A fact is named whole or not at all: a pseudonym's reason has its facts cut out where the reader
 * may not see the link (replay-findings-told.ts), which a fact cut halfway would defeat.
 */
export const refusalWithBrokenFacts = (refusal: string, brokenFacts: readonly string[]): string => {
  const facts = [...new Set(brokenFacts)];
  let reason = boundedRefusal(refusal);
  let named = 0;
  for (const fact of facts) {
    const more = `${DEPENDS}${fact}`;
    if (named === BROKEN_FACTS_NAMED || reason.length + more.length > FINDING_REASON_MAX - COUNT_ROOM) break;
    reason += more;
    named++;
  }
  const others = facts.length - named;
  return others === 0 ? reason : `${reason}${DEPENDS}${others} more ${others === 1 ? 'fact' : 'facts'} with a broken history`;
};
