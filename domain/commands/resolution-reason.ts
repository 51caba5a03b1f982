import { z } from 'zod';

/** The rule a resolution's reason that prints nothing, or holds a character that prints nothing, breaks. */
export const PRINTABLE_REASON_RULE = 'printable';

/**
 * Characters a reader cannot see, or that change what the text around them looks like: controls (a line break, NUL),
 * format characters (zero-width space and joiner, the bidi overrides that reorder what follows), surrogates, private
 * use and unassigned code points, line and paragraph separators, the default-ignorable ones (Hangul fillers,
 * variation selectors) and the blank Braille pattern.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u2800]/u;
/** What a person sees: a letter, a digit, a punctuation mark or a symbol (not a space, not a lone combining mark). */
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;

const codePoint = (c: string): string => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Why an auditor resolves a pseudonym (SER-025: the accountability record, a case reference), as a new resolution
 * must give it: visible text on one line. Found in review 146: `"   "`, `"\n"`, `"\u200b"` and `"\u202e"` each
 * resolved the node and were kept for good as the reason. Commands only (the HTTP body, the CLI, the engine's parse of
 * `resolvePseudonym`): the stored `PseudonymResolved` keeps its looser schema, so a history recorded before this rule
 * still reads and replays.
 */
export const ResolutionReason = z
  .string()
  .min(1)
  .max(500)
  .superRefine((reason, ctx) => {
    const invisible = INVISIBLE.exec(reason);
    if (invisible !== null) {
      ctx.addIssue({
        code: 'custom',
        params: { rule: PRINTABLE_REASON_RULE },
        message: `holds ${codePoint(invisible[0])} at index ${invisible.index}, a control, format or other invisible character: write the reason as visible text on one line`,
      });
    } else if (!VISIBLE.test(reason)) {
      ctx.addIssue({
        code: 'custom',
        params: { rule: PRINTABLE_REASON_RULE },
        message: 'holds no visible character: say why the identity is needed (a case reference)',
      });
    }
  })
  .describe('why the identity is needed (a case reference): visible text on one line, no control, format or other invisible character; recorded with the resolution');
