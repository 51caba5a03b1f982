import { INVISIBLE, JOINER, shows, SOFT_HYPHEN, VARIATION_SELECTOR } from '../domain/commands/printable-text.ts';

/**
 * Text the CLI did not write itself (a server's answer, a store's event, an evidence bundle, a certificate's subject)
 * made safe to write to the operator's terminal. Its own module, imported by bin/io.ts (`json`) and bin/problem.ts.
 */

/** C0 controls, DEL and C1 controls: what a terminal may take for the start of an escape sequence. */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
/**
 * What the domain refuses in stored text (domain/commands/printable-text.ts, rule `printable`), one definition for both:
 * controls, and the format and other invisible characters a terminal prints as nothing or that reorder what follows
 * (review 245: a server's U+202E printed raw showed `txt.exe` for `exe.txt`, in text and --json output alike).
 */
const REFUSED = new RegExp(INVISIBLE.source, 'gu');
const C0 = /^[\u0000-\u001f]$/;
/** Each UTF-16 unit as `\uXXXX`: a character past U+FFFF (a tag character) as its surrogate pair, which JSON reads back as it. */
const escaped = (c: string): string => {
  let out = '';
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
};

/** The character (code point) that ends just before `at`, or undefined. */
const before = (text: string, at: number): string | undefined => {
  if (at === 0) return undefined;
  const point = at >= 2 ? text.codePointAt(at - 2)! : -1;
  return point > 0xffff ? text.slice(at - 2, at) : text[at - 1];
};
/** The character (code point) that starts at `at`, or undefined. */
const after = (text: string, at: number): string | undefined => {
  const point = text.codePointAt(at);
  return point === undefined ? undefined : String.fromCodePoint(point);
};
const MARK = /^\p{M}$/u;

/**
 * Whether a character of the refused set stands where the domain lets it through, shaping visible text rather than
 * standing in for it: a joiner between visible characters (an emoji sequence, a Persian word), a variation selector
 * right after one (❤️), a soft hyphen. Printed as they are, such text reads as the person typed it.
 */
const shapes = (c: string, text: string, at: number): boolean => {
  if (c === SOFT_HYPHEN) return true;
  const previous = before(text, at);
  if (VARIATION_SELECTOR.test(c)) return shows(previous);
  if (!JOINER.test(c)) return false;
  const carried = previous !== undefined && (shows(previous) || MARK.test(previous) || VARIATION_SELECTOR.test(previous));
  return carried && shows(after(text, at + c.length));
};

/** Every character of the refused set escaped, but those that shape visible text and, with `keepC0`, C0 controls. */
const escapeRefused = (text: string, keepC0: boolean): string =>
  text.replace(REFUSED, (c: string, at: number) => ((keepC0 && C0.test(c)) || shapes(c, text, at) ? c : escaped(c)));

/**
 * Every control character shown as a `\u001b` escape, and every format or other invisible character the domain
 * refuses in stored text (a bidi override as `\u202e`) but where it shapes visible text. Found in review: a refusal's
 * title and detail were printed raw, so a server could write ESC and OSC sequences (a retitled window, a hidden line,
 * a link that says one thing and opens another) and line breaks that pass for the CLI's own output; later the same through `credence verify`
 * (a forged bundle's stream id erased its FAILED line and wrote an `ok:`) and `credence query` (a correlationId
 * holding a line break planted rows).
 */
export const printable = (text: string): string => escapeRefused(text, false);

/**
 * JSON text made safe for a terminal the same way. JSON.stringify escapes C0 controls (its own line breaks are the
 * indentation's, and kept) but writes DEL, C1 controls and format characters as they are; those can only stand inside
 * strings, where `\u009b` is the same character, so the JSON still parses to the same value.
 */
export const printableJson = (text: string): string => escapeRefused(text, true);

/**
 * CSV text (RFC 4180, as the API writes it) made safe for a terminal: its records keep their line ends, and every
 * control character inside a record, a line break within a quoted field included, is shown escaped, so each record
 * stays one line and no cell can write to the terminal. Lossy (a line break and the text `\u000a` look the same): for
 * a terminal only; `query --csv` writes the CSV as it is to a pipe or a file (Io.stdoutIsTerminal).
 */
export const printableCsv = (text: string): string => {
  let quoted = false;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') quoted = !quoted;
    const recordEnd = !quoted && (c === '\n' || (c === '\r' && text[i + 1] === '\n'));
    out += recordEnd ? c : c.replace(CONTROLS, escaped);
  }
  // The record ends are the only C0 controls left; the format characters are escaped as in a field's text.
  return escapeRefused(out, true);
};
