import type { ReplayCache } from '../../../domain/ports/replay-cache.ts';
import { assertValidEphemeral, type Ephemeral } from '../../../domain/protocols/ephemeral.ts';
import { rememberOnce } from './replay.ts';

/**
 * The last checks a responder makes on a hello, once the rest has passed (identity, freshness via `assertFresh`,
 * credential): the initiator's ephemeral key, then its nonce (SER-012: a nonce is accepted once per window, whatever
 * else the message says). The nonce is remembered last so that a hello refused for any other reason does not spend it.
 */
export const assertNewHello = async (
  step: string,
  hello: { readonly ephemeral?: Ephemeral | undefined; readonly nonce: string },
  replay: { readonly cache: ReplayCache; readonly protocol: string; readonly responderId: string },
  now: Date,
): Promise<void> => {
  assertValidEphemeral(step, hello.ephemeral);
  await rememberOnce(step, replay.cache, `${replay.protocol}:${replay.responderId}:nonce:${hello.nonce}`, now, 'replayed_nonce');
};
