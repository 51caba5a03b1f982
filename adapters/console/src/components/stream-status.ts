import type { StreamStatus } from '../sse.ts';
import { visibleText } from '../visible-text.ts';

/**
 * The event stream's status line. Why it was interrupted or ended, and a refusal's detail, are the server's (or a
 * proxy's) words: each format or control character is shown as its code point (review 248: a proxy's 503 problem
 * holding U+202E reversed the rest of the line), as every other server text is (visible-text.ts).
 */
export const streamStatusText = (status: StreamStatus | undefined): string => {
  switch (status?.state) {
    case undefined:
    case 'connecting':
      return 'Connecting to the event stream…';
    case 'live':
      return 'Live: following the event stream.';
    case 'reconnecting':
      return `Stream interrupted (${visibleText(status.why)}); reconnecting in ${Math.round(status.inMs / 1000)} s.`;
    case 'refused':
      return `The event stream was refused (${status.error.status}): ${visibleText(status.error.problem.detail ?? status.error.message)}`;
    case 'otherLog':
      return "The server's event log is not the one this page was following (another store answers at this address).";
    case 'ended':
      return `The event stream ended: ${visibleText(status.why)}`;
  }
};
