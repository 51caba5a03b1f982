import { isCredenceError } from '../../domain/errors.ts';
import type { ReplayCache } from '../../domain/ports/replay-cache.ts';

/**
 * What a stranger can compare between two protocol answers, for the tests that a decoy run answers as a real one:
 * every field of a message by its path, with the length of its text (or its value, for a number).
 */
export const shape = (message: unknown, prefix = ''): Record<string, string | number> => {
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(message as Record<string, unknown>)) {
    if (typeof value === 'object' && value !== null) Object.assign(out, shape(value, `${prefix}${key}.`));
    else out[`${prefix}${key}`] = typeof value === 'string' ? `${value.length} chars` : (value as number);
  }
  return out;
};

/** What the peer is told of a refused step (all an answer is made from); anything but a protocol refusal fails. */
export const told = async (run: () => Promise<unknown>) => {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCredenceError(error, 'protocol')) throw new Error(`expected a protocol refusal, got ${String(error)}`);
  return { message: error.message, problem: error.problem };
};

/** A message whose proof a stranger made: the holder's, its first character changed. */
export const withStrangersProof = <T extends { proof: string }>(message: T): T => ({ ...message, proof: `${message.proof[0] === 'A' ? 'B' : 'A'}${message.proof.slice(1)}` });

/** An HTTP answer without what differs between any two requests: its request id, and the path it answers. */
export const httpAnswer = (response: { readonly status: number; readonly type: string | undefined | null; readonly body: Record<string, unknown> }) => {
  const { requestId: _id, instance: _path, ...rest } = response.body;
  return { status: response.status, type: response.type, body: rest };
};

/** Every key `cache` is asked to remember from now on (a run's nonce and transcript): wraps this one instance. */
export const rememberedBy = (cache: ReplayCache): string[] => {
  const remembered: string[] = [];
  const remember = cache.remember.bind(cache);
  cache.remember = async (key, at) => {
    remembered.push(key);
    return remember(key, at);
  };
  return remembered;
};
