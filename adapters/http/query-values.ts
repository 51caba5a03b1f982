/**
 * Query parameter schemas that the OpenAPI document (GET /openapi.json) renders with the rules they enforce. The
 * document is zod's input-side JSON Schema of each: a schema that parses text and then transforms it renders only the
 * text it takes, and zod drops its `.default` there (a default is of the output). Built as WholeNumber and
 * z.stringbool are, `limit` rendered as `number | string` with no bounds and no default, `includeExpired` as a bare
 * string, each allowing values the service refuses with a 400 (review 60).
 */
import { z } from 'zod';
import { readWholeNumber, WholeNumberRange } from '../../domain/whole-number.ts';

/**
 * A whole number `min` to `max` in decimal digits (`?limit=50`), read as WholeNumber reads text. The reading runs
 * ahead of the range (z.preprocess), so the document renders the range itself: `{ type: integer, minimum, maximum }`,
 * as OpenAPI states a query value, from the schema that checks it.
 */
export const QueryWholeNumber = (min: number, max: number) => {
  const read = readWholeNumber(min, max);
  return z.preprocess((value, context) => (typeof value === 'string' ? read(value, context) : value), WholeNumberRange(min, max));
};

/**
 * The same with a value taken when the parameter is absent. A prefault is a value of the input, read like one sent,
 * and the document keeps it as `default` (a `.default` after QueryWholeNumber would be dropped from it).
 */
export const QueryWholeNumberOr = (min: number, max: number, fallback: number) => QueryWholeNumber(min, max).prefault(fallback);

/** `true` or `false`, a boolean once read (documented as that enum with its default), as `full` on GET /v1/replay. */
export const QueryFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .prefault(fallback ? 'true' : 'false');

/**
 * `text` as a route takes it, documented as `reader` takes it: for a parameter the route hands on unread to a schema of
 * its own (each compliance query reads its parameters with its own schema, projections/compliance/catalog.ts), whose
 * rules the document states rather than the route's `string`. `output` for a value read from text into what the
 * reader checks (a number), whose input side renders every form a library caller may pass. Documentation only: the
 * route accepts what `text` does.
 */
export const documentedAs = <T extends z.ZodType>(text: T, reader: z.ZodType, io: 'input' | 'output'): T => {
  const { $schema: _dialect, ...rendered } = z.toJSONSchema(reader, { io, unrepresentable: 'any' });
  // Metadata is laid over what `text` renders itself: its own keywords (`type: string`, `maxLength`) are set undefined,
  // which the document, JSON, leaves out.
  const own = Object.fromEntries(Object.keys(z.toJSONSchema(text, { io: 'input' })).map((key) => [key, undefined]));
  return text.meta({ ...own, ...rendered });
};
