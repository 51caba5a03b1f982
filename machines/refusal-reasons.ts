import type { Owner } from '../domain/events/index.ts';
import type { AssociationContext } from './contexts.ts';
import type { EntityView, MachineEvent } from './types.ts';

/**
 * Why a named guard refused an event, in words a user acts on: what the rule asks and what it found. Read only once
 * the machine has refused (evaluate.ts REFUSAL_REASONS), so it decides nothing; undefined when it has nothing to add
 * to the rule's name. It reads views that may be partial (stored before a field was kept, or forged), so it never
 * assumes a field is there, and it names ids, states and instants, never key material.
 */
export type RefusalReason<C = unknown> = (args: { context: C; event: MachineEvent }) => string | undefined;
export type RefusalReasons<C = unknown> = Readonly<Record<string, RefusalReason<C>>>;

/** An instant as the commands take it (ISO 8601); a missing or unreadable one says so rather than throwing. */
export const instant = (ms: number | undefined): string =>
  ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15 ? '(none)' : new Date(ms).toISOString();

/** An owner as `credence credential issue --owner` takes it. */
export const ownerText = (o: Owner | undefined): string =>
  o === undefined
    ? '(no one)'
    : `${o.kind}:${o.id}${o.nodeId !== undefined ? `@node:${o.nodeId}` : ''}${o.appId !== undefined ? `@app:${o.appId}` : ''}`;

/** "is <state>", or "is not recorded" for an entity a fact found absent. */
export const standing = (view: EntityView | undefined): string => (view === undefined ? 'is not recorded' : `is ${view.state}`);

/** A validity window [notBefore, notAfter) as read from a context. */
export const windowText = (v: { readonly notBefore?: number; readonly notAfter?: number } | undefined): string =>
  `valid from ${instant(v?.notBefore)} to ${instant(v?.notAfter)}`;

/** What the rule asks, then what it found; the ask alone when nothing it reads stands out (a forged or partial view). */
export const saying = (asked: string, found: readonly string[]): string => (found.length === 0 ? asked : `${asked}; ${found.join(', and ')}`);

/**
 * What a bookkeeping event's association was found to be (review 234): not recorded, never established (its state
 * then), or whose it is (`whose`: "node meter-2", "CSE /cse-meter-1").
 */
export const associationFound = (id: string | undefined, view: EntityView | undefined, whose: (a: AssociationContext) => string): string => {
  const a = view?.context as AssociationContext | undefined;
  if (view === undefined || a === undefined) return `association ${id} is not recorded`;
  if (a.establishedAt === undefined) return `association ${id} is ${view.state}, never established`;
  return `association ${id} names ${whose(a)}`;
};
