import { z } from 'zod';
import { ProblemResponse, request } from '../../../adapters/client/http.ts';
import { DEVICE_PATHS, MAX_DEVICE_ANSWER_BYTES } from '../../../adapters/client/device/index.ts';
import { now } from './simulator.ts';

/**
 * The server's clock as a device reads it: the Date header of the server's answer to the device-facing pin route
 * (RFC 9110 6.6.1: whole seconds, the instant the answer was made, rounded down). `device init` compares it with the
 * device's clock (factory.ts), and `device provision` judges by it alone how long an earlier run may still be
 * recorded (pending-provisioning.ts): the device's clock may jump either way between two runs (review 211).
 * Apart in its own module so both read it without an import cycle (factory.ts imports steps.ts, which imports
 * pending-provisioning.ts).
 */

/** An HTTP-date (RFC 9110 5.6.7) as the instant it names; anything else is no server time. */
const HttpDate = z.string().max(64).transform((text) => Date.parse(text)).pipe(z.number());

/** The server's time, and the device's clock just before the request and once its answer came (ms since the epoch). */
export interface ServerTimeReading {
  readonly serverMs: number;
  readonly sent: number;
  readonly answered: number;
}

/**
 * Reads the server's time at `target` (no token: a device-facing route). An answer without a readable Date header,
 * or a refusal, is no reading: undefined (a proxy may drop the header). A server not reached throws, as any request.
 */
export const readServerTime = async (target: { readonly url: string; readonly timeoutMs?: number | undefined }): Promise<ServerTimeReading | undefined> => {
  const sent = now().getTime();
  const date = await request(target.url, {
    method: 'GET', path: DEVICE_PATHS.enrolment, maxResponseBytes: MAX_DEVICE_ANSWER_BYTES, ...(target.timeoutMs !== undefined ? { timeoutMs: target.timeoutMs } : {}),
  }).then((answer) => answer.headers.get('date'), (error: unknown) => {
    if (error instanceof ProblemResponse) return null;
    throw error;
  });
  const answered = now().getTime();
  const parsed = HttpDate.safeParse(date);
  return parsed.success ? { serverMs: parsed.data, sent, answered } : undefined;
};
