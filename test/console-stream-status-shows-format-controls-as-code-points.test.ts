/**
 * Review 248: the event stream's status line printed why it was interrupted or ended, and a refusal's problem detail,
 * as received: a proxy's 503 problem holding U+202E showed the rest of the line reversed. They are shown as every
 * other server text is (visible-text.ts), each format or control character as its code point.
 */
import { describe, expect, it } from 'vitest';

// Imported by URL, as the other console unit tests do: the console's sources are typed against the DOM (their own
// tsconfig), which the project's type check does not load.
type ApiErrorClass = new (status: number, problem: { title: string; status: number; detail?: string }, path: string) => Error;
type StatusText = (status: { state: string; inMs?: number; why?: string; error?: Error }) => string;
const { ApiError } = (await import(new URL('../adapters/console/src/api.ts', import.meta.url).href)) as { ApiError: ApiErrorClass };
const { streamStatusText } = (await import(new URL('../adapters/console/src/components/stream-status.ts', import.meta.url).href)) as { streamStatusText: StatusText };

const RLO = '\u202E';

describe('the event stream status line', () => {
  it('shows why it is reconnecting or ended with format controls as code points', () => {
    const why = `Service Unavailable: upstream ${RLO}gnitratser`;
    expect(streamStatusText({ state: 'reconnecting', inMs: 2_000, why })).toBe('Stream interrupted (Service Unavailable: upstream \\u{202E}gnitratser); reconnecting in 2 s.');
    expect(streamStatusText({ state: 'ended', why: `gone\u0007${RLO}` })).toBe('The event stream ended: gone\\u{0007}\\u{202E}');
  });

  it("shows a refusal's detail, or its title, with format controls as code points", () => {
    const detailed = new ApiError(503, { title: 'Service Unavailable', status: 503, detail: `proxy ${RLO}yxorp` }, '/v1/events');
    expect(streamStatusText({ state: 'refused', error: detailed })).toBe('The event stream was refused (503): proxy \\u{202E}yxorp');
    const titled = new ApiError(503, { title: `Unavailable${RLO}`, status: 503 }, '/v1/events');
    expect(streamStatusText({ state: 'refused', error: titled })).toBe('The event stream was refused (503): Unavailable\\u{202E}');
  });
});
