import type { ReplayCache } from '../../../domain/ports/replay-cache.ts';
import { assertValidEphemeral, type Ephemeral } from '../../../domain/protocols/ephemeral.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';

/**
 * The last checks a responder makes on a hello, once the rest has passed (identity, freshness via `assertFresh`,
 * credential): the initiator's ephemeral key, then its nonce (SER-012: a nonce is accepted once per window,
 * whatever else the message says). The nonce is only looked up here, never written: a hello is unauthenticated,
 * and state an unauthenticated sender can write is state a flood can fill (issue 11 item 4). It is remembered by
 * `rememberAuthenticatedRun` once the initiator's proof has verified; until then the session table refuses a
 * second hello with the nonce of a pending run (`SessionTable.assertNotPending`).
 */
export const assertNewHello = async (
  step: string,
  hello: { readonly ephemeral?: Ephemeral | undefined; readonly nonce: string },
  replayCache: ReplayCache,
  now: Date,
): Promise<void> => {
  assertValidEphemeral(step, hello.ephemeral);
  if (await replayCache.seen(`nonce:${hello.nonce}`, now)) throw protocolFailure(step, 'replayed_nonce');
};
