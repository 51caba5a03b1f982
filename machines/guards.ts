import type { CredentialContext } from './contexts.ts';
import { isWithin, type EntityView, type MachineEvent } from './types.ts';

/** Rules shared by several machines. Each is a pure predicate over the event and its facts. */

/**
 * A credential may back an association only while enrolled or associated and inside its validity window:
 * never from a revoked or expired credential (seed 003, 11.3.2; SER-010).
 */
export const credentialUsableAt = (view: EntityView | undefined, at: number): boolean => {
  if (view === undefined) return false;
  if (view.state !== 'enrolled' && view.state !== 'associated') return false;
  return isWithin(at, view.context as unknown as CredentialContext);
};

export const isOneOf = (view: EntityView | undefined, states: readonly string[]): boolean =>
  view !== undefined && states.includes(view.state);

export const ms = (iso: string): number => Date.parse(iso);

/** Narrowing helper for guards: the data of the event when it has the given type. */
export const dataOf = <T extends MachineEvent['type']>(event: MachineEvent, type: T) =>
  (event.type === type ? event.data : undefined) as Extract<MachineEvent, { type: T }>['data'] | undefined;

type GuardArgs<C> = { context: C; event: MachineEvent };

/** Marks a guard that reads other entities (facts): skipped for trusted rebuilds of already-accepted history. */
export const factGuard =
  <C>(check: (args: GuardArgs<C>) => boolean) =>
  (args: GuardArgs<C>): boolean =>
    args.event.trusted === true || check(args);
