import type { StreamStatus } from '../sse.ts';

export const streamStatusText = (status: StreamStatus | undefined): string => {
  switch (status?.state) {
    case undefined:
    case 'connecting':
      return 'Connecting to the event stream…';
    case 'live':
      return 'Live: following the event stream.';
    case 'reconnecting':
      return `Stream interrupted (${status.why}); reconnecting in ${Math.round(status.inMs / 1000)} s.`;
    case 'refused':
      return `The event stream was refused (${status.error.status}): ${status.error.problem.detail ?? status.error.message}`;
    case 'otherLog':
      return "The server's event log is not the one this page was following (another store answers at this address).";
    case 'ended':
      return `The event stream ended: ${status.why}`;
  }
};
