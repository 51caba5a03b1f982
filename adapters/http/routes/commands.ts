import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { command, CommandMetadata, CommandSchema, newCommandIssuesAsSent, SentCommandSchema, withIssues, type CommandType } from '../../../domain/commands/index.ts';
import { isCredenceError, unauthorised, validationError, type FieldIssue } from '../../../domain/errors.ts';
import { Role as ActorRole, type Actor } from '../../../domain/metadata.ts';
import { recordedEventToJson } from '../../../domain/transparency/index.ts';
import { tokenChecked } from '../auth/access-hook.ts';
import { ACCESS } from '../auth/roles.ts';
import { HttpProblem } from '../problems.ts';
import type { Principal, RouteModule } from '../context.ts';
import { StoredEventWire } from './wire.ts';

/**
 * The body: one strict object per command type, its `data` the command's own schema as sent (the engine parses it
 * again), so a bad body is refused with every field path before anything is read (those of the rules of new facts
 * too: bodyValidator), and the OpenAPI document shows each command. That schema is strict at every depth
 * (domain/commands/command.ts): an unknown or misspelt field is a 400 naming it (`body.data.profile.colour`, rule
 * `unrecognized_key`), never dropped. No `actor`, `token` or `metadata`: who acts is the authenticated principal, and
 * the token it came with is the one verified (a body that names one is a 400; tokenChecked passes the token to the
 * engine, which records it: review 188).
 */
const envelope = {
  commandId: CommandMetadata.shape.commandId.optional().describe('idempotency key (UUID); the same id again replays the first outcome'),
  correlationId: CommandMetadata.shape.correlationId,
  causationId: CommandMetadata.shape.causationId,
  signature: CommandMetadata.shape.signature.describe(
    'request signature (SER-016) over the command as the engine sees it: actor { id: <token subject>, role: <token role> } and the ' +
      'commandId, correlationId and causationId sent here (send the commandId you signed)',
  ),
};
/**
 * Commands that name a pseudonym run only through their own routes, which derive it or record who asks and why. Here
 * a pseudonym the caller named was judged against the node it was sent with: refused as not derived for every node
 * but its own and as taken for that one, so an operator could learn which node a pseudonym names by asking, and
 * nothing recorded it (found in review; SER-025, seed 004).
 */
const OWN_ROUTES: Readonly<Partial<Record<CommandType, { readonly route: string; readonly cli: string }>>> = {
  rotatePseudonym: { route: 'POST /v1/pseudonyms/rotations', cli: 'credence pseudonym rotate <nodeId>' },
  resolvePseudonym: { route: 'POST /v1/pseudonyms/resolutions', cli: 'credence pseudonym resolve <pseudonym> --reason TEXT' },
};

/** The route's body of each command type `commands` holds (one of the command schemas), but those of OWN_ROUTES. */
const bodyOf = (commands: typeof SentCommandSchema) => {
  const perType = (commands.options as unknown as z.ZodObject<{ type: z.ZodLiteral<CommandType>; data: z.ZodType }>[])
    .filter((option) => !Object.hasOwn(OWN_ROUTES, option.shape.type.value))
    .map((option) => z.strictObject({ type: option.shape.type, data: option.shape.data, ...envelope }));
  return z.discriminatedUnion('type', perType as unknown as [(typeof perType)[number], ...(typeof perType)[number][]]);
};

// The command as sent (SentCommandSchema): a retry of what an earlier version recorded breaking a rule of new facts must
// reach the engine to be answered with its first outcome (review 342); the engine judges those rules for a new command.
const CommandBody = bodyOf(SentCommandSchema).describe('a lifecycle command of the catalog (domain/commands/catalog.ts)');
/** The body of a new command: CommandBody with the rules of new facts (CommandSchema's data). */
const NewCommandBody = bodyOf(CommandSchema);

/** A body's field issue (`data.reason`, `correlationId`) as fastify-type-provider-zod reports a zod issue's. */
const schemaError = (issue: FieldIssue): FastifySchemaValidationError => {
  const instancePath = `/${issue.path.split('.').join('/')}`;
  return { keyword: 'custom', instancePath, schemaPath: `#${instancePath}/custom`, params: { params: { rule: issue.rule } }, message: issue.message };
};
/** A reported issue as a field issue of the body, its rule the one map-raised-error.ts reads from it. */
const fieldIssue = (error: FastifySchemaValidationError): FieldIssue => {
  const rule = (error.params as { params?: { rule?: unknown } }).params?.rule;
  return { path: error.instancePath.split('/').filter((s) => s.length > 0).join('.'), rule: error.keyword === 'custom' && typeof rule === 'string' ? rule : error.keyword, message: error.message ?? '' };
};

/**
 * The body's validator: CommandBody's; a body it refuses is refused naming every field NewCommandBody refuses, the
 * rules of new facts' too, and every rule given new commands no field schema holds (domain newCommandIssuesAsSent: a
 * revocation's reason, the correlation and causation ids as visible text, the commandId in lower case; the body's
 * sender is an outside one, the route being the operator's). A body failing the schema as sent was never recorded, so
 * it is no retry to answer, and one breaking rules of both kinds was refused naming only the first kind, then the
 * other on its resend (reviews 348, 353).
 */
type Validate = (data: unknown) => { readonly error?: Error | FastifySchemaValidationError[]; readonly value?: unknown };
const bodyValidator = (route: Parameters<FastifySchemaCompiler<z.ZodType>>[0]): Validate => {
  const sent = validatorCompiler(route) as Validate;
  if (route.httpPart !== 'body') return sent;
  const asNew = validatorCompiler({ ...route, schema: NewCommandBody }) as Validate;
  return (data) => {
    const judged = sent(data);
    if (judged.error === undefined) return judged;
    // NewCommandBody holds every rule of CommandBody, so it fails too; CommandBody's refusal kept should it ever not.
    const every = asNew(data);
    if (!Array.isArray(every.error)) return judged;
    const body = (data ?? {}) as { type?: unknown; data?: unknown; commandId?: unknown; correlationId?: unknown; causationId?: unknown };
    const asSent = newCommandIssuesAsSent({
      type: body.type,
      data: body.data,
      metadata: { commandId: body.commandId, correlationId: body.correlationId, causationId: body.causationId },
    }).map((issue) => ({ ...issue, path: issue.path.replace(/^metadata\./, '') }));
    const more = withIssues(every.error.map(fieldIssue), asSent).slice(every.error.length);
    return { error: [...every.error, ...more.map(schemaError)] };
  };
};

const CommandOutcomeWire = z
  .object({
    commandId: z.string(),
    streamId: z.string(),
    state: z.string().describe('state of the entity after the command'),
    deduplicated: z.boolean().describe('true when the command id had been seen: nothing was appended, the first outcome is returned'),
    events: z.array(StoredEventWire),
  })
  .meta({ id: 'CommandOutcome' });

/**
 * Who acts: the token's subject in the token's role, which the engine authorises against the catalog. `admin` manages
 * access and is no actor of the lifecycle (ACCESS.commands keeps it off this route; should it ever reach it, 403).
 */
export const actorOf = (principal: Principal): Actor => {
  const role = ActorRole.safeParse(principal.role);
  if (!role.success) throw unauthorised(principal.subject, `role ${principal.role} runs no lifecycle command`);
  return { id: principal.subject, role: role.data };
};

/**
 * Where the client put a command's metadata field the engine names (`metadata.commandId`): the body's own field, the
 * actor being the token's; undefined for any other path. Shared by every route that builds a command from its body.
 */
export const metadataBodyPath = (path: string): string | undefined => {
  if (path === 'metadata.actor' || path.startsWith('metadata.actor.')) return 'token.subject';
  if (path.startsWith('metadata.')) return `body.${path.slice('metadata.'.length)}`;
  return undefined;
};

/** The engine names command fields (`data.x`, `metadata.commandId`); the client sent body fields and a token. */
const bodyPath = (path: string): string => metadataBodyPath(path) ?? (path === '' ? 'body' : `body.${path}`);

export const commandRoutes: RouteModule = (app, context) => {
  app.post('/v1/commands', {
    config: { access: ACCESS.commands },
    // Fastify types a route's compiler as taking the whole route schema; it is called with each part's, a zod schema.
    validatorCompiler: bodyValidator as never,
    schema: {
      summary: 'Execute a lifecycle command',
      description:
        'Runs any command of the catalog through the engine (parse, authorise, verify the request signature, decide, append). ' +
        'The actor is the authenticated principal (`{ id: <token subject>, role: <token role> }`), never the body; the events ' +
        'also record the token it came with (`metadata.token: { id, issuedBy, issuedWith }`, set by the service). ' +
        '201 when events were appended; 200 when `commandId` had been seen and the first outcome is replayed. Positions are decimal strings.',
      tags: ['commands'],
      body: CommandBody,
      response: { 200: CommandOutcomeWire, 201: CommandOutcomeWire },
    },
    // Before the schema, so the refusal names the route to use rather than listing the types this one takes.
    preValidation: async (request) => {
      const type = (request.body as { type?: unknown } | undefined)?.type;
      if (typeof type !== 'string' || !Object.hasOwn(OWN_ROUTES, type)) return;
      // Named both ways: a CLI user sent it with `credence command` (review 54: the route alone left them looking).
      const own = OWN_ROUTES[type as CommandType]!;
      throw validationError([{ path: 'body.type', rule: 'own_route', message: `${type} runs only through ${own.route} (from the CLI: ${own.cli})` }], 'command');
    },
    handler: async (request, reply) => {
      const body = request.body;
      const started = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
      const input = command(body.type, body.data as Record<string, unknown>, {
        actor: actorOf(request.principal!),
        ...(body.commandId !== undefined ? { commandId: body.commandId } : {}),
        ...(body.correlationId !== undefined ? { correlationId: body.correlationId } : {}),
        ...(body.causationId !== undefined ? { causationId: body.causationId } : {}),
      });
      let outcome;
      try {
        outcome = await context.credence.engine.execute(
          body.signature === undefined ? input : { ...input, metadata: { ...input.metadata, signature: body.signature } },
          tokenChecked(context.access, request.principal!),
        );
      } catch (error) {
        // Typed refusals, the token's too (revoked while the command waited in its lane): counted as refused.
        if (isCredenceError(error) || error instanceof HttpProblem) context.metrics.commandDecided(body.type, 'refused', seconds());
        if (isCredenceError(error, 'validation') && error.problem.code === 'validation') {
          throw validationError(error.problem.issues.map((i) => ({ ...i, path: bodyPath(i.path) })), 'command');
        }
        throw error;
      }
      context.metrics.commandDecided(body.type, outcome.deduplicated ? 'replayed' : 'accepted', seconds());
      return reply.code(outcome.deduplicated ? 200 : 201).send({
        commandId: outcome.commandId,
        streamId: outcome.streamId,
        state: outcome.state,
        deduplicated: outcome.deduplicated,
        events: outcome.events.map(recordedEventToJson),
      });
    },
  });
};
