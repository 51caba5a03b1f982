import type { CommandOutcome } from '../../domain/ports/index.ts';
import type { Engine } from '../engine/index.ts';

/**
 * `engine` with `noted` shown every outcome of its three entry points before its caller sees it: what the runtime keeps
 * of the commands the service acknowledges (the positions given out, events-db-replaced.ts; the folder's first event,
 * first-event-of-the-folder.ts).
 */
export const outcomesNotedBy = (engine: Engine, noted: (outcome: CommandOutcome) => void): Engine => {
  const seen = (outcome: CommandOutcome): CommandOutcome => {
    noted(outcome);
    return outcome;
  };
  return {
    ...engine,
    execute: (input, options) => engine.execute(input, options).then(seen),
    executeAsSystem: (input) => engine.executeAsSystem(input).then(seen),
    executeAsInfrastructure: (input) => engine.executeAsInfrastructure(input).then(seen),
  };
};
