import type { Credence } from '../../adapters/runtime/index.ts';
import { ExpectedRevision } from '../../domain/ports/index.ts';

/** Appends an event straight to the store, with the metadata of the stream's first event: what a tampered log holds. */
export const tamper = async (c: Pick<Credence, 'store'>, stream: string, type: string, data: Record<string, unknown>): Promise<void> => {
  const [first] = await c.store.readStream(stream);
  await c.store.appendToStream(
    stream,
    [{ id: crypto.randomUUID(), type, data: data as never, metadata: { ...first!.metadata, commandId: crypto.randomUUID() } }],
    { expectedRevision: ExpectedRevision.any },
  );
};
