import type { CommandSink } from '../../domain/ports/index.ts';
import { supersededInTurn, type CredentialContext, type EntityView } from '../../machines/index.ts';

/** How many rotations are followed from a successor (a longer chain ends where it was cut). */
const MAX_CHAIN = 64;

/**
 * Where a rotation handed over to, as the credentials stand now: from `successorId`, past every successor that was
 * superseded in turn by one of its own (a rotation's successor has the same owner as its predecessor). `hops` is how
 * many were passed. The end of an overlap (the scheduler) and an App-ID's move (the cascade) both ask it.
 */
export const rotationChainEnd = async (
  engine: Pick<CommandSink, 'view'>,
  successorId: string,
): Promise<{ readonly id: string; readonly view: EntityView; readonly hops: number }> => {
  let id = successorId;
  let view = await engine.view('credential', id);
  let hops = 0;
  for (; supersededInTurn(view) && hops < MAX_CHAIN; hops++) {
    id = (view.context as unknown as CredentialContext).successorId!;
    view = await engine.view('credential', id);
  }
  return { id, view, hops };
};
