import { entityIdOf } from '../domain/events/index.ts';
import { decodeStored, type DecodedEvent, type StoredRecord } from '../domain/stored.ts';

export type ReadStored = { readonly ok: true; readonly value: DecodedEvent } | { readonly ok: false; readonly reason: string };

/**
 * A stored record as the machines may see it: decoded (upcast, parsed by zod) and addressed to the entity of the
 * stream it is stored in. Rebuilding an entity, replaying one and replaying the fleet all read events through here.
 */
export const readStored = (record: StoredRecord, entityId: string): ReadStored => {
  const decoded = decodeStored(record);
  if (!decoded.ok) return { ok: false, reason: `unreadable: ${decoded.reason}` };
  const addressee = entityIdOf(decoded.value.event);
  if (addressee !== entityId) {
    return { ok: false, reason: `${decoded.value.event.type} is addressed to ${addressee} but stored in ${record.streamId}` };
  }
  return decoded;
};
