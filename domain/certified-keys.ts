import type { EventStore } from './ports/event-store.ts';
import { parseStreamId } from './streams.ts';

/**
 * SER-010: the credential (its id) a store says certified a key (`EventStore.keyCertifiedBy`), for the credential
 * machine's keyNeverCertified fact. A store that cannot tell answers none; a stream that is no credential's (nothing
 * Credence writes) is named by its whole id, so that it still refuses the key rather than pass it.
 */
export const keyHolderIn =
  (store: Pick<EventStore, 'keyCertifiedBy'>) =>
  async (fingerprint: string): Promise<string | undefined> => {
    const streamId = await store.keyCertifiedBy?.(fingerprint);
    if (streamId === undefined) return undefined;
    const ref = parseStreamId(streamId);
    return ref?.kind === 'credential' ? ref.id : streamId;
  };
