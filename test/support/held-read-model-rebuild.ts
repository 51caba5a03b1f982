import type { ProjectionRunner } from '../../projections/runtime/index.ts';

/*
 * A read model rebuilt at start, caught in the window the live runtime opens before its first pass: its backlog is
 * counted (runner.lag) while its rebuild (runner.catchUp) is held, so a test can act before and during that count and
 * read the lag the runtime says before anything is handled.
 */

/** A read model whose rebuild is held: where its first backlog count is, and the hold's release. */
export interface HeldReadModelRebuild {
  /** True while its first backlog count is being read (after `beforeCount` ran). */
  readonly counting: () => boolean;
  /** True once its first backlog count has ended. */
  readonly counted: () => boolean;
  /** Lets its rebuild run; more calls do nothing. */
  readonly release: () => void;
}

/**
 * Hooks `runner` so that `name`'s rebuild (its catch-up) waits for `release()`, and `beforeCount` runs once, on its
 * first backlog count, before that count reads the store; later counts, and every other read model, pass through.
 * Install before the live runtime starts.
 */
export const heldReadModelRebuild = (
  runner: Pick<ProjectionRunner, 'lag' | 'catchUp'>,
  name: string,
  beforeCount: () => Promise<void> = async () => undefined,
): HeldReadModelRebuild => {
  const lag = runner.lag.bind(runner);
  let hooked = false;
  let counting = false;
  let counted = false;
  runner.lag = async (readModel, countLimit) => {
    if (readModel !== name || hooked) return lag(readModel, countLimit);
    hooked = true;
    await beforeCount();
    counting = true;
    try {
      return await lag(readModel, countLimit);
    } finally {
      counting = false;
      counted = true;
    }
  };
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const catchUp = runner.catchUp.bind(runner);
  runner.catchUp = async (readModel) => {
    if (readModel === name) await held;
    return catchUp(readModel);
  };
  return { counting: () => counting, counted: () => counted, release };
};
