/**
 * Text the CLI did not write itself (a server's answer, a store's event, an evidence bundle, a certificate's subject)
 * made safe to write to the operator's terminal. Its own module, imported by bin/io.ts (`json`) and bin/problem.ts.
 */

/** C0 controls, DEL and C1 controls: what a terminal may take for the start of an escape sequence. */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
/** The same, less what JSON.stringify already escapes (C0): DEL and C1, which it writes as they are. */
const UNESCAPED_IN_JSON = /[\u007f-\u009f]/g;
const escaped = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * Every control character shown as a `\u001b` escape. Found in review: a refusal's title and detail were printed
 * raw, so a server could write ESC and OSC sequences (a retitled window, a hidden line, a link that says one thing
 * and opens another) and line breaks that pass for the CLI's own output; later the same through `credence verify`
 * (a forged bundle's stream id erased its FAILED line and wrote an `ok:`) and `credence query` (a correlationId
 * holding a line break planted rows).
 */
export const printable = (text: string): string => text.replace(CONTROLS, escaped);

/**
 * JSON text made safe for a terminal the same way. JSON.stringify escapes C0 controls but writes DEL and C1 controls
 * as they are; those can only stand inside strings, where `\u009b` is the same character, so the JSON still parses
 * to the same value.
 */
export const printableJson = (text: string): string => text.replace(UNESCAPED_IN_JSON, escaped);

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
  return out;
};
