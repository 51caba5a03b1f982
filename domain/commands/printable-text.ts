import { z } from 'zod';

/**
 * The rule free text a person typed breaks when it prints nothing, or holds a character that prints nothing or changes
 * how the text around it prints: first for a resolution's reason (review 146), then for every free-text field of a
 * new command (review 186).
 */
export const PRINTABLE_RULE = 'printable';

/**
 * Characters a reader cannot see, or that change what the text around them looks like: controls (a line break, NUL),
 * format characters (zero-width space, word joiner, byte order mark, the bidi embeddings, overrides and isolates that
 * reorder what follows, and the LRM, RLM and ALM marks, which move the digits and punctuation a case reference is made
 * of and which right-to-left text typed on its own keyboard does not need), tag characters, surrogates, private use
 * and unassigned code points, line and paragraph separators, the default-ignorable ones (Hangul fillers) and the blank
 * Braille pattern. The joiners, variation selectors and the soft hyphen below are in this class too, and are let
 * through only where they shape a visible character rather than stand in for one. Exported, with the exceptions below,
 * for the CLI to escape what it prints from elsewhere by the same set (bin/printable.ts).
 */
export const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u2800]/u;
/** What a person sees: a letter, a digit, a punctuation mark or a symbol (not a space, not a lone combining mark). */
const VISIBLE = /^[\p{L}\p{N}\p{P}\p{S}]$/u;
const MARK = /^\p{M}$/u;
/** ZWNJ and ZWJ: Persian, Urdu and Kurdish spelling, Indic conjuncts, emoji sequences (review 147). */
export const JOINER = /^[\u200C\u200D]$/u;
/** VS1-VS16 and VS17-VS256: the emoji presentation typed on phones (U+FE0F), ideographic variants. */
export const VARIATION_SELECTOR = /^[\uFE00-\uFE0F\u{E0100}-\u{E01EF}]$/u;
/** Soft hyphen: pasted from word processors and PDFs; shows as a hyphen where a line breaks, else as nothing. */
export const SOFT_HYPHEN = '\u00AD';

const codePoint = (c: string): string => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** A character that prints on its own: visible, and not one of the invisible ones that are letters or symbols (U+3164). */
export const shows = (c: string | undefined): boolean => c !== undefined && VISIBLE.test(c) && !INVISIBLE.test(c);

/** The first character the text may not hold where it stands, with its UTF-16 index and why, or undefined. */
const refusedCharacter = (text: string): { char: string; index: number; why: string } | undefined => {
  const chars = [...text];
  // Whether the text so far ends in a visible character, with any marks and variation selectors it carries.
  let afterVisible = false;
  let index = 0;
  for (let i = 0; i < chars.length; index += chars[i]!.length, i++) {
    const c = chars[i]!;
    if (JOINER.test(c)) {
      if (!afterVisible || !shows(chars[i + 1])) return { char: c, index, why: 'a joiner not between two visible characters' };
      afterVisible = false;
    } else if (VARIATION_SELECTOR.test(c)) {
      if (!shows(chars[i - 1])) return { char: c, index, why: 'a variation selector not right after a visible character' };
    } else if (c === SOFT_HYPHEN) {
      afterVisible = false;
    } else if (INVISIBLE.test(c)) {
      return { char: c, index, why: 'a control, format or other invisible character' };
    } else if (VISIBLE.test(c)) {
      afterVisible = true;
    } else if (!MARK.test(c)) {
      // A space; a combining mark instead extends the character before it (é as e + U+0301, a virama before a ZWJ).
      afterVisible = false;
    }
  }
  return undefined;
};

/** What a refusal tells the sender to do: with a character that does not print, and with text that shows nothing. */
export interface PrintableAdvice {
  readonly rewrite: string;
  readonly empty: string;
}

/**
 * Refines free text to visible text on one line: a control, format or other invisible character is refused naming its
 * code point and index (joiners, variation selectors and the soft hyphen only within visible text), and text that
 * shows nothing (spaces alone) is refused too, both by rule `printable`. Empty text is left to its schema's minimum
 * (printableText words it EMPTY_MESSAGE). Text longer than `maxLength` (its schema's max, which has refused it already:
 * zod runs a refinement after a failed max) is left unread: the scan walks every character through several
 * expressions, and a megabyte sent where 128 characters fit cost ~50 ms (review 353).
 */
export const printableRule =
  (advice: PrintableAdvice, maxLength: number | null = null) =>
  (text: string, ctx: z.RefinementCtx): void => {
    // Empty text is its schema's min(1) to refuse, once (review 368: zod runs this after a failed min too, and the
    // same value was refused twice on one path).
    if (text === '' || (maxLength !== null && text.length > maxLength)) return;
    const refused = refusedCharacter(text);
    if (refused !== undefined) {
      ctx.addIssue({
        code: 'custom',
        params: { rule: PRINTABLE_RULE },
        message: `holds ${codePoint(refused.char)} at index ${refused.index}, ${refused.why}: ${advice.rewrite}`,
      });
    } else if (![...text].some(shows)) {
      ctx.addIssue({ code: 'custom', params: { rule: PRINTABLE_RULE }, message: `holds no visible character: ${advice.empty}` });
    }
  };

const TEXT_ADVICE: PrintableAdvice = { rewrite: 'write it as visible text on one line', empty: 'write it as visible text' };

/** What an empty value is told, by rule `too_small` (zod's code), for zod's "Too small: expected string to have >=1 characters". */
export const EMPTY_MESSAGE = 'must not be empty';

/** `schema`'s own refusal of an empty text said in the project's words; its other refusals keep theirs. */
const emptySaidPlainly = <T extends z.ZodString>(schema: T): T => {
  // Typed for a string schema's own issues; any issue of the schema reaches it.
  const own = schema._zod.def.error as z.core.$ZodErrorMap | undefined;
  const error: z.core.$ZodErrorMap = (issue) =>
    issue.code === 'too_small' && issue.origin === 'string' && issue.minimum === 1 ? EMPTY_MESSAGE : own?.(issue);
  // A clone with `parent`, as zod's own refinements make, so a description registered on `schema` still reads.
  return schema.clone({ ...schema._zod.def, error } as never, { parent: true });
};

/**
 * `schema` (a string schema with its own bounds) refined to visible text on one line, as a new command's free text must
 * be (review 186: a subscription's termination reason with a terminal escape and a line break, a manufacturer with a
 * bidi override, a class of spaces were stored), empty text refused once, as EMPTY_MESSAGE (rule too_small). Commands
 * only: stored events keep the looser schema they were read with, so a history recorded before the rule still reads
 * and replays.
 */
export const printableText = <T extends z.ZodString>(schema: T) => emptySaidPlainly(schema).superRefine(printableRule(TEXT_ADVICE, schema.maxLength));
