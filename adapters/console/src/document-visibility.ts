import type { Visibility } from './session-watch.ts';

/** Whether the browser shows the tab, and when that changes (the HTML standard's page visibility). */
export const documentVisibility: Visibility = {
  hidden: () => document.hidden,
  onChange: (listener) => {
    document.addEventListener('visibilitychange', listener);
    return () => document.removeEventListener('visibilitychange', listener);
  },
};
