import { z } from 'zod';

/**
 * A number written as `pattern` (text), or a JSON number as it is; the refusal of other text says what is wanted. It
 * is zod's `invalid_format`, as a `.regex` raises, so its rule is the one every front end names text not of the form
 * wanted by (a compliance `limit`, a position, an id): it was a bare `custom`, and `?limit=abc` was rule `custom` on
 * some routes and `invalid_format` on others (review 199).
 */
const decimalOf =
  (pattern: RegExp, wanted: string) =>
  (value: number | string, context: z.RefinementCtx): number => {
    if (typeof value === 'number') return value;
    if (pattern.test(value)) return Number(value);
    context.addIssue({ code: 'invalid_format', format: 'regex', pattern: pattern.source, message: wanted });
    return z.NEVER;
  };

const decimal = (pattern: RegExp, wanted: string) => z.union([z.number(), z.string()]).transform(decimalOf(pattern, wanted));

const WHOLE_DIGITS = /^\d{1,16}$/;

/** How a WholeNumber reads its text: decimal digits only, else the issue naming the rule (for other schema builders). */
export const readWholeNumber = (min: number, max: number) => decimalOf(WHOLE_DIGITS, `a whole number in decimal digits, ${min} to ${max}`);

/**
 * What a WholeNumber is once read: its bounds, in one place for the check and for a document that states them, said in
 * the value's terms (review 218: zod's stock "Too small: expected number to be >=1").
 */
export const WholeNumberRange = (min: number, max: number) => {
  const bounds = `must be a whole number from ${min} to ${max}`;
  return z.number().int(bounds).min(min, bounds).max(max, bounds);
};

/**
 * A whole number from a boundary that speaks in text (a command-line option, an environment variable) or JSON:
 * text is decimal digits only. `z.coerce.number` read `0x1f90` as 8080, `1e3` as 1000 and ` 9000` as 9000 (found in
 * review): each a value the operator did not write, taken without a word.
 */
export const WholeNumber = (min: number, max: number) =>
  z.union([z.number(), z.string()]).transform(readWholeNumber(min, max)).pipe(WholeNumberRange(min, max));

/** The same for a positive amount that may have a fraction (seconds): `1.5`, never `1e3` or `0x10`. */
export const DecimalNumber = (max: number) =>
  decimal(/^\d{1,16}(\.\d{1,9})?$/, `a number in decimal digits, e.g. 2.5, at most ${max}`).pipe(z.number().positive().max(max));
