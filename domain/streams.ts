import { z } from 'zod';

/** One stream per entity: `<kind>-<id>`. The kind prefix is what `$all` filters use. */
export const EntityKind = z.enum(['node', 'credential', 'association', 'application', 'subscription', 'pseudonym']);
export type EntityKind = z.infer<typeof EntityKind>;

export const ENTITY_KINDS: readonly EntityKind[] = EntityKind.options;

export const streamIdOf = (kind: EntityKind, id: string): string => `${kind}-${id}`;

export const streamPrefixOf = (kind: EntityKind): string => `${kind}-`;

export interface StreamRef {
  readonly kind: EntityKind;
  readonly id: string;
  readonly streamId: string;
}

/** Parses `<kind>-<id>`; undefined for a stream that is not an entity stream. */
export const parseStreamId = (streamId: string): StreamRef | undefined => {
  const dash = streamId.indexOf('-');
  if (dash <= 0) return undefined;
  const kind = EntityKind.safeParse(streamId.slice(0, dash));
  const id = streamId.slice(dash + 1);
  if (!kind.success || id.length === 0) return undefined;
  return { kind: kind.data, id, streamId };
};

/** An entity as a guard or a process manager sees it: its lifecycle state and its machine context. */
export interface EntityView<C = Record<string, unknown>> {
  readonly state: string;
  readonly context: C;
}
