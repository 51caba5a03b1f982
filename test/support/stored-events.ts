import type { DecodedEvent } from '../../domain/stored.ts';
import { operator } from './fleet.ts';

/** What a stored event's metadata says beyond its time: its id, who recorded it, by which command, caused by what. */
export interface StoredMeta {
  readonly id?: string;
  readonly actor?: typeof operator;
  readonly commandType?: string;
  readonly causationId?: string;
}

/**
 * Stored events numbered from position 1, each as the runner hands it to a projection (record, event, metadata, at):
 * recorded by the operator and caused by itself unless `meta` says otherwise. Only what the projections read is real.
 */
export const storedEvents = () => {
  let position = 0n;
  return (streamId: string, type: string, data: Record<string, unknown>, at: number, meta: StoredMeta = {}): DecodedEvent => {
    position += 1n;
    const id = meta.id ?? `event-${position}`;
    const metadata = {
      schemaVersion: 1,
      actor: meta.actor ?? operator,
      commandId: `command-${position}`,
      commandType: meta.commandType ?? 'unknown',
      correlationId: id,
      causationId: meta.causationId ?? id,
      occurredAt: new Date(at).toISOString(),
    };
    return { record: { id, streamId, revision: 0n, position, type, data, metadata }, event: { type, data }, metadata, at } as unknown as DecodedEvent;
  };
};
