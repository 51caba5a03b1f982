import type { Engine } from '../../adapters/engine/index.ts';
import type { CommandOutcome, CommandSink } from '../../domain/ports/index.ts';

/**
 * The engine as a process manager sees it, recording each command it is asked to decide (its outcome, or `refused`);
 * `recorded` (the store's index of command ids) only when `index`.
 */
export const countingSink = (engine: Engine, index = true) => {
  const outcomes: (CommandOutcome | 'refused')[] = [];
  const sink: CommandSink = {
    clock: engine.clock,
    execute: (input) => engine.execute(input),
    executeAsSystem: async (input) => {
      try {
        const outcome = await engine.executeAsSystem(input);
        outcomes.push(outcome);
        return outcome;
      } catch (error) {
        outcomes.push('refused');
        throw error;
      }
    },
    view: (kind, id) => engine.view(kind, id),
    ...(index ? { recorded: (kind, id, commandId, by) => engine.recorded(kind, id, commandId, by) } : {}),
  };
  return { sink, outcomes };
};
