import { z } from 'zod';
import { WholeNumber } from '../../domain/whole-number.ts';

/**
 * A whole number setting. The union ahead of WholeNumber names the rule for a value that is neither a number nor
 * text: found in review, `"port": 1e400` (JSON.parse gives Infinity, which z.number refuses) said only `Invalid input`.
 */
export const int = (min: number, max: number) =>
  z.union([z.number(), z.string()], { error: `a whole number in decimal digits, ${min} to ${max}` }).pipe(WholeNumber(min, max));

/**
 * No control character in a host or path: found in review, CREDENCE_DATA holding a line break and ESC was printed as
 * it was in the startup line, and `{"data":"/x\u0000y"}` failed in Node naming no field. Refused here, the message
 * names the field and its source like every other.
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/;
export const withoutControls = <S extends z.ZodString>(schema: S) =>
  schema.refine((value) => !CONTROLS.test(value), { message: 'must not hold control characters (NUL, a line break, an escape)', abort: true });

/**
 * No space at either end of a path (review 298 item 6): `CREDENCE_DATA='/var/lib/credence '` named another folder than
 * the one meant, made at start with the space in its name. Nothing trims it: the path is used as written.
 */
export const withoutEdgeSpaces = <S extends z.ZodString>(schema: S) =>
  schema.refine((value) => value === value.trim(), { message: EDGE_SPACES, abort: true, params: { rule: 'edge_spaces' } });
export const EDGE_SPACES = 'must not begin or end with a space: the path is taken as written, and would name another file or folder';
export const MIB = 1024 * 1024;
