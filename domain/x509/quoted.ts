/**
 * How a refusal quotes what the sender chose (an object identifier, a name, a library's message about its bytes):
 * the detail explains, it does not echo. An OID of thousands of arcs fits in a 4 KiB CSR or a 16 KiB OCSP request.
 */

/** At most this many characters of the sender's text are quoted. */
export const SHOWN = 80;

/** `text` cut to SHOWN characters, as a JSON string (quotes and escapes: a control character cannot break a log line). */
export const quotedCut = (text: string): string => JSON.stringify(text.slice(0, SHOWN));
