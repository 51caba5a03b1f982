import { z } from 'zod';
import { EMPTY_MESSAGE, printableRule, PRINTABLE_RULE } from './printable-text.ts';

/** The rule a resolution's reason that prints nothing, or holds a character that prints nothing, breaks. */
export const PRINTABLE_REASON_RULE = PRINTABLE_RULE;

/** A reason's bounds, which its printable rule reads too (text over them is not scanned). */
const ReasonText = z.string().min(1, `${EMPTY_MESSAGE}: say why the identity is needed (a case reference)`).max(500);

/**
 * Why an auditor resolves a pseudonym (SER-025: the accountability record, a case reference), as a new resolution
 * must give it: visible text on one line. Found in review 146: `"   "`, `"\n"`, `"\u200b"` and `"\u202e"` each
 * resolved the node and were kept for good as the reason. Found in review 147: refusing every format and
 * default-ignorable character also refused what auditors write (ZWNJ in Persian, ZWJ and VS16 in emoji, a pasted soft
 * hyphen), so those pass where they shape visible text. Commands only (the HTTP body, the CLI, the engine's parse of
 * `resolvePseudonym`): the stored `PseudonymResolved` keeps its looser schema, so a history recorded before this rule
 * still reads and replays.
 */
export const ResolutionReason = ReasonText
  .superRefine(printableRule({ rewrite: 'write the reason as visible text on one line', empty: 'say why the identity is needed (a case reference)' }, ReasonText.maxLength))
  .describe('why the identity is needed (a case reference): visible text on one line, no control or invisible character (joiners, variation selectors and soft hyphens only within visible text); recorded with the resolution');
