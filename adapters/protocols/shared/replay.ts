import type { ReplayCache } from '../../../domain/ports/replay-cache.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';

/**
 * The part of the replay cache one protocol end owns (issue 11 item 4): its own namespace, with its own entry
 * budget, so that runs of one protocol (or of another responder sharing the cache) can never fill it.
 */
export const replayNamespace = (cache: ReplayCache, protocol: string, responderId: string): ReplayCache =>
  cache.namespace(`${protocol}:${responderId}`);

/**
 * SER-012: records `key` (a nonce or a transcript hash) and refuses the step when it was seen within the window. A
 * full cache refuses too: losing replay protection under load is worse than refusing work.
 */
export const rememberOnce = async (
  step: string,
  replayCache: ReplayCache,
  key: string,
  now: Date,
  replayed: 'replayed_nonce' | 'replayed_transcript',
): Promise<void> => {
  const verdict = await replayCache.remember(key, now);
  if (verdict !== 'fresh') throw protocolFailure(step, verdict === 'full' ? 'replay_cache_full' : replayed);
};

/** Authenticated runs one initiator may have within the replay window, by default: far more than a device retries. */
export const DEFAULT_RUNS_PER_CLAIMANT = 32;

/**
 * Records a run once the initiator's proof over it has verified, and only then (issue 11 item 4): its nonce, so
 * that its hello replayed later is refused (see `assertNewHello`), and its transcript hash. Nothing an
 * unauthenticated sender sends reaches the cache, so no flood can fill it; a replayed authenticated run still
 * finds its nonce and transcript here and is refused.
 *
 * One authenticated initiator (a compromised device) must not fill it either, or every other one would be refused
 * `replay_cache_full`: each run also takes one of `runsPerClaimant` slots of its claimant, each held for the
 * window, and a claimant with none free is refused `too_many_runs` before anything else is written. So one
 * claimant holds at most three entries per slot, and filling the namespace takes some `maxEntries / 96` of them.
 * The slots are probed from a random one, so a claimant with few of them taken finds a free one at once however
 * many it may have (a benchmark's single device).
 */
export const rememberAuthenticatedRun = async (
  step: string,
  replayCache: ReplayCache,
  run: { readonly claimant: string; readonly nonce: string; readonly transcriptHash: string },
  now: Date,
  slots: { readonly random: RandomSource; readonly runsPerClaimant?: number | undefined },
): Promise<void> => {
  await takeRunSlot(step, replayCache, run.claimant, now, slots.runsPerClaimant ?? DEFAULT_RUNS_PER_CLAIMANT, slots.random);
  await rememberOnce(step, replayCache, `nonce:${run.nonce}`, now, 'replayed_nonce');
  await rememberOnce(step, replayCache, `transcript:${run.transcriptHash}`, now, 'replayed_transcript');
};

/**
 * Refuses `too_many_runs` when every one of the claimant's runs of the window is taken, taking none itself (only
 * `seen`, which records nothing). Asked before checks whose refusals take no run (review 319), so that past its runs
 * the claimant is told `too_many_runs` whatever it asks, and those checks cannot answer it beyond the bound (review
 * 333: a refusal told apart from `too_many_runs` said whether a credential id was in use). A run that finds a slot here
 * may still lose it to a concurrent run of its claimant: `rememberAuthenticatedRun` is what takes one.
 */
export const assertRunLeft = async (
  step: string,
  replayCache: ReplayCache,
  claimant: string,
  now: Date,
  runsPerClaimant: number | undefined,
): Promise<void> => {
  const slots = runsPerClaimant ?? DEFAULT_RUNS_PER_CLAIMANT;
  for (let slot = 0; slot < slots; slot++) if (!(await replayCache.seen(runSlotKey(slot, claimant), now))) return;
  throw tooManyRuns(step, replayCache, slots);
};

/** A positive whole number of runs, or undefined (the default): a responder's option, checked when it is built. */
export const checkRunsPerInitiator = (value: number | undefined): void => {
  if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) throw new RangeError('runsPerInitiator must be a positive integer');
};

const takeRunSlot = async (step: string, replayCache: ReplayCache, claimant: string, now: Date, slots: number, random: RandomSource): Promise<void> => {
  const bytes = random(4);
  const start = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0) % slots;
  for (let probe = 0; probe < slots; probe++) {
    const slot = (start + probe) % slots;
    const verdict = await replayCache.remember(runSlotKey(slot, claimant), now);
    if (verdict === 'fresh') return;
    if (verdict === 'full') throw protocolFailure(step, 'replay_cache_full');
  }
  throw tooManyRuns(step, replayCache, slots);
};

const runSlotKey = (slot: number, claimant: string): string => `runs:${slot}:${claimant}`;

const tooManyRuns = (step: string, replayCache: ReplayCache, slots: number) =>
  protocolFailure(step, 'too_many_runs', `more than ${slots} authenticated runs of this initiator within ${replayCache.windowSeconds} s`);
