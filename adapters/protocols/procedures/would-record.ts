import { command, decide, parseCommand, targetOf, type CommandType } from '../../../domain/commands/index.ts';
import type { Actor } from '../../../domain/metadata.ts';
import { keyHolderIn } from '../../../domain/certified-keys.ts';
import { streamIdOf } from '../../../domain/streams.ts';
import { evaluate, gatherFactsAsync, machineEvent, refusalError, viewOf, type EntitySnapshot } from '../../../machines/index.ts';
import { randomCommandId, type Engine } from '../../engine/index.ts';

/** One command of a sequence to decide before any is appended. */
export interface Planned {
  readonly type: CommandType;
  readonly data: Record<string, unknown>;
}

/**
 * Decides `commands`, all on one entity, as the engine would decide them one after the other (parse, then each
 * candidate event through the entity's machine against the facts read now, each command on the snapshot the one
 * before would leave), and appends nothing. Throws the engine's own refusal (a `validation` or an
 * `illegal_transition` naming the guard) for the first command the machine would refuse.
 *
 * Why: the engine decides one command against the stored entity, so a procedure that records two facts with two
 * commands (`issueCredential`, then `provisionCredential`) would otherwise see the second refused only once the first
 * is stored. Deciding both first means a refusal writes nothing. The facts may still move between this decision and
 * the appends (each append re-checks the revisions of the facts it read), so the caller still handles a refusal of a
 * later command; it just no longer meets the refusals that were already certain.
 */
export const assertWouldRecord = async (engine: Engine, actor: Actor, commands: readonly Planned[]): Promise<void> => {
  const at = engine.clock.now().getTime();
  let target: { streamId: string; snapshot: EntitySnapshot; exists: boolean } | undefined;
  for (const planned of commands) {
    const parsed = parseCommand(command(planned.type, planned.data, { actor, commandId: randomCommandId() }));
    const { kind, id } = targetOf(parsed);
    const streamId = streamIdOf(kind, id);
    if (target === undefined) {
      const entity = await engine.entity(kind, id);
      target = { streamId, snapshot: entity.snapshot, exists: entity.events.length > 0 };
    } else if (target.streamId !== streamId) {
      throw new TypeError(`assertWouldRecord: commands: every command must target ${target.streamId}, ${planned.type} targets ${streamId}`);
    }
    for (const event of decide(parsed)) {
      const facts = await gatherFactsAsync(event, target.snapshot.context, async (k, i) => {
        const other = await engine.entity(k, i);
        return other.events.length === 0 ? undefined : viewOf(other.snapshot);
      }, keyHolderIn(engine.store));
      const verdict = evaluate(kind, target.snapshot, machineEvent(event, at, facts));
      if (!verdict.ok) throw refusalError(kind, streamId, target.exists, event.type, verdict);
      target = { streamId, snapshot: verdict.snapshot, exists: true };
    }
  }
};
