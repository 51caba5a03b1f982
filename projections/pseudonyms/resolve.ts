import { Pseudonym } from '../../domain/events/pseudonym.ts';
import type { Actor, RequestSignature } from '../../domain/metadata.ts';
import type { CommandSink, ExecuteOptions } from '../../domain/ports/index.ts';
import type { PseudonymContext } from '../../machines/pseudonym.machine.ts';

export interface ResolveRequest {
  readonly pseudonym: string;
  /** Why the auditor needs the identity (case reference): recorded with the resolution. */
  readonly reason: string;
  readonly actor: Actor;
  readonly commandId?: string;
  /** The auditor's request signature (SER-016) over this command: verified by the engine and recorded with it. */
  readonly signature?: RequestSignature;
}

export interface Resolution {
  readonly pseudonym: string;
  readonly nodeId: string;
  readonly epoch: number;
  /** Global position of the PseudonymResolved event that records this resolution. */
  readonly position: bigint | undefined;
}

/**
 * Resolves a pseudonym to its node (SER-025: only an authorised stakeholder may identify another). It is a
 * command, so the engine's role check refuses anyone but an auditor before anything is read or written, and a
 * resolution that succeeds is a stored `PseudonymResolved` event naming the auditor. The identity is read only
 * after that event is stored. `options` go with the command to the engine (an interface's check of the caller's
 * token, run right before it is decided).
 */
export const resolvePseudonym = async (engine: CommandSink, request: ResolveRequest, options?: ExecuteOptions): Promise<Resolution> => {
  const outcome = await engine.execute({
    type: 'resolvePseudonym',
    data: { pseudonym: request.pseudonym, reason: request.reason },
    metadata: {
      actor: request.actor,
      ...(request.commandId !== undefined ? { commandId: request.commandId } : {}),
      ...(request.signature !== undefined ? { signature: request.signature } : {}),
    },
  }, options);
  const pseudonym = Pseudonym.parse(request.pseudonym);
  const context = (await engine.view('pseudonym', pseudonym)).context as unknown as PseudonymContext;
  if (context.nodeId === undefined || context.epoch === undefined) {
    throw new Error(`pseudonym ${pseudonym} was resolved but its stream names no node`);
  }
  return { pseudonym, nodeId: context.nodeId, epoch: context.epoch, position: outcome.events[0]?.position };
};
