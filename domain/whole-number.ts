import { z } from 'zod';

/**
 * A whole number from a boundary that speaks in text (a command-line option, an environment variable) or JSON:
 * decimal digits only. `z.coerce.number` read `0x1f90` as 8080, `1e3` as 1000 and ` 9000` as 9000 (found in review):
 * each a value the operator did not write, taken without a word.
 */
export const WholeNumber = (min: number, max: number) =>
  z
    .union([z.number(), z.string().regex(/^\d{1,16}$/, 'a whole number in decimal digits').transform(Number)])
    .pipe(z.number().int().min(min).max(max));

/** The same for a positive amount that may have a fraction (seconds): `1.5`, never `1e3` or `0x10`. */
export const DecimalNumber = (max: number) =>
  z
    .union([z.number(), z.string().regex(/^\d{1,16}(\.\d{1,9})?$/, 'a number in decimal digits, e.g. 2.5').transform(Number)])
    .pipe(z.number().positive().max(max));
