import { z } from 'zod';
import { int, withoutControls } from './config-values.ts';

export const TokenConfig = z.strictObject({
  /** `iss` and `aud` of the API's bearer tokens: written into every token and said in refusals, so no control character. */
  issuer: withoutControls(z.string().min(1).max(200)).default('credence'),
  audience: withoutControls(z.string().min(1).max(200)).default('credence-api'),
  /** The longest lifetime a token can be issued with (default 90 days). */
  maxTtlSeconds: int(1, 10 * 365 * 86_400).default(90 * 86_400),
  /** The most tokens one subject holds at a time, neither expired nor revoked: each is a row of access.db. */
  maxActivePerSubject: int(1, 100_000).default(100),
});
export type TokenConfig = z.infer<typeof TokenConfig>;
