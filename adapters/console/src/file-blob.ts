/**
 * UTF-8 byte-order mark. Excel opens a CSV without one in the system's legacy code page, so a name or reason outside
 * ASCII (é, ü, ß) reads as mojibake; with it, as UTF-8. Only the file the console saves carries it: the API's CSV
 * body stays as integrators parse it.
 */
const BOM = '\uFEFF';

/**
 * The contents of a file the console saves: a CSV starts with the byte-order mark (once), anything else is the text
 * as it is. Its own module, free of the DOM, so that it is tested without a browser.
 */
export const fileBlob = (text: string, type: string): Blob =>
  new Blob([type === 'text/csv' && !text.startsWith(BOM) ? `${BOM}${text}` : text], { type });
