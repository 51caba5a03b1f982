/** Format and control characters: bidi overrides and isolates, zero-width ones, the C0 and C1 controls. */
const HIDDEN = /[\p{Cf}\p{Cc}]/gu;

/**
 * Free text as an audit table shows it (a correlation id, a reason, an actor): each format or control character
 * written as its code point, `\u{202E}`, so that text cannot make a row read as other text than it holds (review 113:
 * a right-to-left override in a correlation id showed everything after it reversed). Lit escapes markup already.
 */
export const visibleText = (text: string): string =>
  text.replace(HIDDEN, (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}}`);
