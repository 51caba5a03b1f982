import { z } from 'zod';
import { CommandId } from '../../domain/ids.ts';

/**
 * The pattern zod publishes for `CommandId` (`z.uuid`): any RFC 9562 version 1 to 8, either case, the nil and max
 * UUIDs. The schema stays that wide on purpose: a command recorded under an upper-case id before review 186 is still
 * found and answered when retried under it (domain/ids.ts).
 */
const ZOD_COMMAND_ID_PATTERN = (z.toJSONSchema(CommandId) as { pattern?: string }).pattern;

/**
 * What the service takes as a new command's id, which the document publishes instead (review 219: a client generated
 * from zod's pattern sent ids the service refused). Lower case only (`lower_case`, domain/commands/new-command-id.ts,
 * RFC 9562 section 4); version 1 to 7, since version 8 is the form of the ids the engine derives for its own reactions
 * (`reserved_command_id`, adapters/engine/admission.ts); the variant digit 8, 9, a or b as zod asks; and the nil and
 * max UUIDs, which zod takes and neither rule refuses. test/http-openapi-publishes-the-command-id-pattern-the-service-accepts.test.ts
 * holds it to the service's answers.
 */
export const NEW_COMMAND_ID_PATTERN =
  '^(?:[0-9a-f]{8}-[0-9a-f]{4}-[1-7][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$';

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/**
 * A request body's JSON Schema with each `commandId` property rendered from `CommandId` published with the pattern a
 * new command's id must match (every command variant of POST /v1/commands, the rotations' and resolutions' bodies).
 * A copy: the rendered schema is left as it was.
 */
export const withNewCommandIdPattern = (schema: unknown, key?: string): unknown => {
  if (Array.isArray(schema)) return schema.map((item) => withNewCommandIdPattern(item));
  if (!isPlainObject(schema)) return schema;
  if (key === 'commandId' && schema['pattern'] === ZOD_COMMAND_ID_PATTERN) return { ...schema, pattern: NEW_COMMAND_ID_PATTERN };
  return Object.fromEntries(Object.entries(schema).map(([name, child]) => [name, withNewCommandIdPattern(child, name)]));
};
