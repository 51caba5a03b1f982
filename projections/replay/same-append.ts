import type { EventMetadata } from '../../domain/metadata.ts';

/** Whether two events' metadata say one decision wrote them: the same instant, actor, command type and causal chain. */
export const sameAppend = (first: EventMetadata | undefined, next: EventMetadata): boolean =>
  first !== undefined &&
  first.occurredAt === next.occurredAt &&
  first.actor.id === next.actor.id &&
  first.actor.role === next.actor.role &&
  first.commandType === next.commandType &&
  first.correlationId === next.correlationId &&
  first.causationId === next.causationId;
