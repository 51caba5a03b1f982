import type { Page } from 'playwright-core';

/**
 * The server's event streams answered, in Chromium's request interception, with `first` and then `then`; answers
 * each connection's Last-Event-ID as it is noted.
 */
export const answerStreams = async (page: Page, first: string, then: string): Promise<(string | undefined)[]> => {
  const resumedFrom: (string | undefined)[] = [];
  await page.route(
    (url) => url.pathname === '/v1/events',
    async (route) => {
      resumedFrom.push((await route.request().headerValue('last-event-id')) ?? undefined);
      await route.fulfill({ status: 200, contentType: 'text/event-stream', body: resumedFrom.length === 1 ? first : then });
    },
  );
  return resumedFrom;
};
