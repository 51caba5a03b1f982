import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, ProblemSchema } from './problems.ts';

/**
 * The command routes' own refusals as the OpenAPI document declares them (review 342: all of them came under the 4XX
 * catch-all, a bare Problem, though they are what an integrator handles): each a Problem subtype naming the members
 * it carries (problems.ts's table, map-raised-error.ts), declared on its status so that the headers of every answer
 * (the rate limit's count among them, openapi-transform.ts) are declared with it.
 */

const typeOf = (code: string) => z.literal(`${PROBLEM_TYPE_BASE}${code}`);

/** A Problem with the members of one code: `allOf` the Problem and them, so a client generator sees it as a subtype. */
const subtype = (id: string, description: string, code: string, status: number, members: z.ZodRawShape) =>
  z.intersection(ProblemSchema, z.looseObject({ type: typeOf(code), status: z.literal(status), ...members })).meta({ id, description });

const FieldIssue = z.object({
  path: z.string().describe('the field: `body.data.nodeId`, `body.commandId`, `headers.idempotency-key`'),
  rule: z.string().describe('the rule it broke: a schema check (`invalid_type`, `unrecognized_key`, ...) or a rule of the service'),
  message: z.string(),
});

export const ValidationProblem = subtype('ValidationProblem', 'A request refused for its fields (`validation`)', 'validation', 400, {
  errors: z
    .array(FieldIssue)
    .min(1)
    .describe(
      'every field refused, each with its rule; among the service\'s rules `idempotency` (the commandId was used for another command: ' +
        'send a new one), `command_id_bound_by_refused_attempt` (EventStoreDB: the commandId is bound to a command on another ' +
        'entity that has recorded nothing yet, refused or still being written: send the command under a new one), `own_route` (a command with a route of its own), `use_command_id` (an Idempotency-Key header: send the key as ' +
        '`body.commandId`), `json` (a body that is no JSON)',
    ),
});
export const MalformedRequestProblem = subtype(
  'MalformedRequestProblem',
  'A request whose head is malformed (`malformed_request`): a header sent twice that is not a list (Authorization, Content-Type, Host)',
  'malformed_request',
  400,
  {},
);
export const NotFoundProblem = subtype('NotFoundProblem', 'The entity a request names does not exist (`not_found`)', 'not_found', 404, {
  streamId: z.string().describe('the stream of the entity that does not exist'),
});
const IllegalTransitionProblem = subtype(
  'IllegalTransitionProblem',
  "The entity's machine refuses the command in the state it is in (`illegal_transition`): nothing was recorded",
  'illegal_transition',
  409,
  {
    streamId: z.string(),
    state: z.string().describe('the state the entity is in'),
    attempted: z.string().describe('the command refused'),
    allowed: z.array(z.string()).describe('the commands its machine takes in that state'),
    rule: z.string().optional().describe('the guard that refused, when the transition exists but its guard failed'),
  },
);
const ConcurrencyConflictProblem = subtype(
  'ConcurrencyConflictProblem',
  'The entity moved while the command was decided, past the retries of the engine (`concurrency_conflict`): nothing was recorded; send it again under the same commandId',
  'concurrency_conflict',
  409,
  { streamId: z.string(), expected: z.string(), actual: z.string() },
);
const RotationRefusedProblem = subtype(
  'RotationRefusedProblem',
  'The node cannot rotate (`rotation_refused`): unknown, or not live; nothing was recorded',
  'rotation_refused',
  409,
  {},
);
/** The resolutions' own 409s (routes/resolution-bound.ts, routes/pseudonyms.ts brokenResolution): nothing recorded. */
const ResolutionLimitProblem = subtype(
  'ResolutionLimitProblem',
  'The caller has recorded `limits.maxResolutionsPerPseudonym` resolutions of this pseudonym (`resolution_limit`): nothing was recorded; its node is already the caller\'s to read',
  'resolution_limit',
  409,
  { limit: z.int().positive().describe('the most resolutions of one pseudonym one auditor may record') },
);
const PseudonymTooLongProblem = subtype(
  'PseudonymTooLongProblem',
  "The pseudonym's stream holds `limits.maxEntityEvents` events, whoever resolved them (`pseudonym_too_long`): nothing was recorded",
  'pseudonym_too_long',
  409,
  {
    streamId: z.string(),
    events: z.int().nonnegative().describe('the events its stream holds (at least `maxEvents`)'),
    maxEvents: z.int().positive().describe('limits.maxEntityEvents'),
  },
);
const BrokenHistoryProblem = subtype(
  'PseudonymBrokenHistoryProblem',
  "The pseudonym's stored history holds an event its own machine refuses, on which the engine records no command (`broken_history`): nothing was recorded",
  'broken_history',
  409,
  {
    pseudonym: z.string(),
    streamId: z.string(),
    reason: z.string().optional().describe('why its replay refuses the event'),
    eventType: z.string().optional().describe('the refused event\'s type'),
    rule: z.string().optional().describe('the rule it broke, when there is one'),
    position: z.string().regex(/^\d+$/).optional().describe('the refused event\'s global position: only to an auditor who resolved the pseudonym'),
  },
);
const PseudonymsUnavailableProblem = subtype(
  'PseudonymsUnavailableProblem',
  'This server has no pseudonym key (`pseudonyms_unavailable`): a matter of its configuration, not one to retry',
  'pseudonyms_unavailable',
  501,
  {},
);
/** A device protocol step's refusal (domain/errors.ts protocolError): the step and the reason, nothing recorded. */
export const ProtocolProblem = subtype('ProtocolProblem', 'A device protocol message refused (`protocol`): the step and the reason', 'protocol', 422, {
  step: z.string().describe('the protocol step that refused it, e.g. `provisioning.hello`'),
  reason: z.string().describe('why: `malformed`, `wrong_identity`, `bad_mac`, `bad_signature`, `unknown_session`, `unsupported_version`, ...'),
});
const BadSignatureProblem = subtype(
  'BadSignatureProblem',
  'The request signature in the body was refused, or is missing where the signing policy requires one (`bad_signature`): nothing was recorded',
  'bad_signature',
  422,
  { reason: z.string().describe('why the signature was refused') },
);

export const answer = (description: string, schema: z.ZodType) => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema } } });

const BAD_REQUEST = answer(
  'a body, or a field of it, the route does not take (`validation`, each field in `errors` with its `rule`: `idempotency` for a commandId ' +
    'used for another command; `command_id_bound_by_refused_attempt` for one an earlier refused attempt bound (EventStoreDB); `use_command_id` for an `Idempotency-Key` header, refused with nothing done: the key is `body.commandId`); ' +
    'or a header sent twice that is not a list (`malformed_request`)',
  z.union([ValidationProblem, MalformedRequestProblem]),
);
const BAD_SIGNATURE = answer(
  'the request signature (`signature`) refused, or missing where the signing policy requires one (`bad_signature`, `reason`): nothing recorded',
  BadSignatureProblem,
);

/** The command routes' own refusals by `METHOD url`, merged into the route's declared responses (openapi-refusals.ts). */
export const COMMAND_ROUTE_REFUSALS: Readonly<Record<string, Readonly<Record<number, ReturnType<typeof answer>>>>> = {
  'POST /v1/commands': {
    400: BAD_REQUEST,
    404: answer('the entity the command names does not exist (`not_found`, `streamId`): nothing recorded', NotFoundProblem),
    409: answer(
      "the entity's machine refuses the command in its state (`illegal_transition`: `streamId`, `state`, `attempted`, `allowed`, `rule`), " +
        'or the entity moved while it was decided (`concurrency_conflict`): nothing recorded',
      z.union([IllegalTransitionProblem, ConcurrencyConflictProblem]),
    ),
    422: BAD_SIGNATURE,
  },
  'POST /v1/pseudonyms/rotations': {
    400: BAD_REQUEST,
    409: answer('the node cannot rotate, unknown or not live (`rotation_refused`): nothing recorded', RotationRefusedProblem),
    422: BAD_SIGNATURE,
    501: answer(
      'this server has no pseudonym key, so it rotates no pseudonym (`pseudonyms_unavailable`): a matter of its configuration, not one to retry',
      PseudonymsUnavailableProblem,
    ),
  },
  'POST /v1/pseudonyms/resolutions': {
    400: BAD_REQUEST,
    404: answer('a pseudonym no rotation recorded (`not_found`, `streamId`): nothing recorded', NotFoundProblem),
    409: answer(
      'nothing recorded: the caller has recorded the most resolutions of this pseudonym one auditor may (`resolution_limit`, `limit`); ' +
        "the pseudonym's stream is full (`pseudonym_too_long`, `streamId`, `events`, `maxEvents`); or its stored history holds an event " +
        'its own machine refuses (`broken_history`, `pseudonym`, `streamId`, `reason`, `eventType`, and `position` to an auditor who resolved it)',
      z.union([ResolutionLimitProblem, PseudonymTooLongProblem, BrokenHistoryProblem]),
    ),
    422: BAD_SIGNATURE,
  },
};
