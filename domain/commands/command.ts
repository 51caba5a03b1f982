import { z } from 'zod';
import { EVENT_DATA, EVENT_KIND, ENTITY_ID_FIELD, type EventData } from '../events/index.ts';
import { compiledSchema } from '../compiled-schema.ts';
import { validationError, type CredenceError, type FieldIssue } from '../errors.ts';
import { assertJsonWithin, MESSAGE_JSON_LIMITS } from '../json-limits.ts';
import { CommandId } from '../ids.ts';
import { Actor, RequestSignature } from '../metadata.ts';
import { CredentialIssued, issuingRules, ownerNamesItsHolder, ProvisioningCommandData, provisioningRules } from '../events/credential.ts';
import { issuedCertificateRules } from './certificate-rules.ts';
import { COMMAND_CATALOG, COMMAND_TYPES, type CommandType, type EventOfCommand } from './catalog.ts';
import { EMPTY_MESSAGE } from './printable-text.ts';
import { NEW_REVOCATION_REASONS, newRevocationReasonIssue, newRevocationReasonRules, REVOCATION_REASON_COMMANDS } from './revocation-rules.ts';
import { REMOVE_FROM_CRL_IS_NO_REASON, RevocationReason } from '../events/common.ts';
import { PseudonymResolved } from '../events/pseudonym.ts';
import { ResolutionReason } from './resolution-reason.ts';
import { CommandOwner, FREE_TEXT_DATA, FREE_TEXT_FIELDS, senderTextRefusal } from './free-text.ts';
import { newCommandIdRefusal } from './new-command-id.ts';
import type { EntityKind } from '../streams.ts';

/**
 * Who a new command says acts: ids are tokens of printable ASCII (no spaces, no control, zero-width or lookalike
 * characters), so the reserved `system:` prefix cannot be imitated and ids print safely in logs and the CLI. Stored
 * events keep the looser Actor schema so that what was recorded stays readable.
 */
const CommandActor = Actor.extend({
  id: Actor.shape.id.regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
});

export const CommandMetadata = z.object({
  /**
   * Idempotency key: a command with an id already seen returns the first outcome and appends nothing. Compared
   * exactly as sent (domain/ids.ts CommandId): recorded as sent, so a signature over it verifies from the event.
   * Any UUID here, so a retry of a command recorded under an upper-case id still parses; a new command's id must be in
   * lower case, judged once it is known not to be a retry (new-command-id.ts, review 186).
   */
  commandId: CommandId,
  actor: CommandActor,
  /**
   * Free text a sender chooses, printed in the audit trail: visible text on one line from outside senders (review 186;
   * free-text.ts senderTextRefusal), not here: the engine's reactions carry on the correlation id of the stored event
   * they react to, which an earlier version may have recorded with a control character.
   */
  correlationId: z.string().min(1, EMPTY_MESSAGE).max(200).optional(),
  causationId: z.string().min(1, EMPTY_MESSAGE).max(200).optional(),
  signature: RequestSignature.optional(),
  /**
   * Never the sender's (review 188): the token a command came with is recorded from the verified token by the service
   * that admitted it (ExecuteOptions.token, domain/metadata.ts RecordedToken). Refused, naming it, rather than dropped:
   * a sender that names one is told it does not count.
   */
  token: z.never({ error: 'set by the service from the API token the command came with, never by its sender' }).optional(),
});
export type CommandMetadata = z.infer<typeof CommandMetadata>;

export type Command = {
  [C in CommandType]: { readonly type: C; readonly data: EventData<EventOfCommand<C>>; readonly metadata: CommandMetadata };
}[CommandType];

/**
 * A command's revocation reason: every reason of the enum is read (the cascade's `system` commands carry a stored
 * certificateHold on; newRevocationReasonRules refuses it to anyone else), but what a sender is told it may give, in
 * the refusal of an unknown value and in the OpenAPI document's enum, is the reasons a new revocation may carry
 * (review 46: both listed certificateHold and aACompromise, which a retry then saw refused).
 */
const CommandRevocationReason = z
  .enum(RevocationReason.options, {
    error: (issue) =>
      issue.input === 'removeFromCRL'
        ? REMOVE_FROM_CRL_IS_NO_REASON
        : `Invalid option: expected one of ${NEW_REVOCATION_REASONS.map((r) => JSON.stringify(r)).join('|')}`,
  })
  .meta({ enum: [...NEW_REVOCATION_REASONS] })
  .describe(`RFC 5280 CRLReason: one of ${NEW_REVOCATION_REASONS.join(', ')} (certificateHold and aACompromise are refused: a revocation is permanent)`);

/** A revocation's data as its event's, its reason described with the rule commandOf adds (revocation-rules.ts). */
const revocationData = (type: CommandType): z.ZodType =>
  (EVENT_DATA[COMMAND_CATALOG[type].event] as unknown as z.ZodObject).extend({ reason: CommandRevocationReason });

/**
 * Where a command's data as sent, new or a retry, must meet more than its event's schema. Not the rules of new facts
 * only that an earlier version did not have (free text, each capability once, a permanent revocation reason): a retry
 * of what it recorded must still parse, to be found and answered (review 342); NEW_FACT_RULES holds them.
 */
const SENT_DATA: Partial<Record<CommandType, z.ZodType>> = {
  issueCredential: CredentialIssued.superRefine(issuingRules).superRefine(issuedCertificateRules).superRefine(ownerNamesItsHolder),
  provisionCredential: ProvisioningCommandData.superRefine(provisioningRules),
  resolvePseudonym: PseudonymResolved.extend({ reason: ResolutionReason }),
  ...Object.fromEntries([...REVOCATION_REASON_COMMANDS].map((type) => [type, revocationData(type)])),
};

/** Where a new command's data must meet more than its event's schema: rules for new facts, not for stored ones. */
const COMMAND_DATA: Partial<Record<CommandType, z.ZodType>> = {
  ...SENT_DATA,
  ...FREE_TEXT_DATA,
  issueCredential: CredentialIssued.extend({ owner: CommandOwner }).superRefine(issuingRules).superRefine(issuedCertificateRules).superRefine(ownerNamesItsHolder),
};

type Def = Record<string, unknown> & { readonly type: string };
const defOf = (schema: z.ZodType): Def => schema._zod.def as unknown as Def;
const rebuilt = (schema: z.ZodType, parts: Record<string, unknown>): z.ZodType => schema.clone({ ...defOf(schema), ...parts } as never);

/** Kinds that hold no schema of their own: nothing inside them to make strict. */
const LEAVES = new Set(['string', 'number', 'int', 'bigint', 'boolean', 'date', 'enum', 'literal', 'null', 'undefined', 'never', 'template_literal', 'nan']);

/**
 * `schema` refusing a key it does not name in every object it holds, however deep (the profile, the owner, the
 * certificate, the receipt and its parts, the Registree's options), its own rules (refinements) kept. An object
 * that sets its own catchall (a loose one) keeps it. A kind of schema not handled here throws when the module loads:
 * whoever builds a command's data with one decides how it is made strict, rather than having it accept anything.
 */
const strictOf = (schema: z.ZodType): z.ZodType => {
  const def = defOf(schema);
  const inner = (key: string) => ({ [key]: strictOf(def[key] as z.ZodType) });
  switch (def.type) {
    case 'object': {
      const shape = Object.fromEntries(Object.entries(def['shape'] as Record<string, z.ZodType>).map(([k, v]) => [k, strictOf(v)]));
      return rebuilt(schema, { shape, catchall: def['catchall'] ?? z.never() });
    }
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return rebuilt(schema, inner('innerType'));
    case 'array':
      return rebuilt(schema, inner('element'));
    case 'union':
      return rebuilt(schema, { options: (def['options'] as z.ZodType[]).map(strictOf) });
    case 'pipe':
      return rebuilt(schema, { ...inner('in'), ...inner('out') });
    case 'transform':
      return schema;
    default:
      if (LEAVES.has(def.type)) return schema;
      throw new Error(`strictOf: a ${def.type} schema in a command's data; say how it refuses unknown keys`);
  }
};

/**
 * Each command's data, strict: a key the schema does not name is refused at every depth, not dropped (found in
 * review: a misspelt `bootstrapCredentialId` left a node without its bootstrap link, a misspelt `predecessorId` made
 * a successor an independent credential, both answered 201; before them, a misspelt `replaces` left an App-ID's
 * move unconditional). Derived once, when the module loads, from the event schemas, which stay as they are: stored
 * events are read as written (strict on write, lenient on read). `test/command-data-refuses-unknown-keys-at-every-depth.test.ts`
 * checks every object of every command's data, generated from the schemas.
 */
const strictData = (data: Partial<Record<CommandType, z.ZodType>>) =>
  Object.fromEntries(COMMAND_TYPES.map((type) => [type, strictOf(data[type] ?? EVENT_DATA[COMMAND_CATALOG[type].event])])) as Record<CommandType, z.ZodType>;
const STRICT_DATA = strictData(COMMAND_DATA);
const STRICT_SENT_DATA = strictData(SENT_DATA);

/**
 * One command type's schema: its literal type, its data (strict, with the command-only rules) and the command metadata;
 * a revocation's reason is checked against who sends it (revocation-rules.ts: the cascade carries stored reasons on).
 */
const commandOf = (type: CommandType) => {
  const schema = z.object({ type: z.literal(type), data: STRICT_DATA[type], metadata: CommandMetadata });
  return REVOCATION_REASON_COMMANDS.has(type) ? schema.superRefine(newRevocationReasonRules) : schema;
};

/** One command type's schema as sent, new or a retry: commandOf without the rules of new facts (NEW_FACT_RULES). */
const sentCommandOf = (type: CommandType) => z.object({ type: z.literal(type), data: STRICT_SENT_DATA[type], metadata: CommandMetadata });

type CommandOptions = [z.ZodObject<{ type: z.ZodLiteral<CommandType> }>, ...z.ZodObject<{ type: z.ZodLiteral<CommandType> }>[]];

/** A new command: every rule, those of new facts included (the CLI checks what it is about to send with it). */
export const CommandSchema = z.discriminatedUnion('type', COMMAND_TYPES.map(commandOf) as unknown as CommandOptions);

/**
 * A command as sent, which may be the retry of one an earlier version recorded: what the engine parses, and the
 * service's route body, before its id is looked for. Every rule of CommandSchema but those of new facts, which
 * newCommandRefusal judges once the id is known not to be recorded (review 342). Strict and bounded as CommandSchema.
 */
export const SentCommandSchema = z.discriminatedUnion('type', COMMAND_TYPES.map(sentCommandOf) as unknown as CommandOptions);

/**
 * The free-text rules of new facts, by command type: free text visible text on one line (free-text.ts, rule
 * `printable`) and each capability named once (`repeated_capability`). Only the fields they judge, read from a command
 * SentCommandSchema already parsed: its other fields and keys pass as they are. A revocation's reason is judged from its
 * field by newCommandIssuesAsSent (`new_revocation_reason`).
 */
const NEW_FACT_FIELDS: Partial<Record<CommandType, z.ZodRawShape>> = { ...FREE_TEXT_FIELDS, issueCredential: { owner: CommandOwner } };
const NEW_FACT_RULES: Partial<Record<CommandType, z.ZodType>> = Object.fromEntries(
  Object.entries(NEW_FACT_FIELDS).map(([type, fields]) => [type, z.object({ data: z.looseObject(fields!) })]),
);

const compiledNewFactRules: Partial<Record<CommandType, z.ZodType>> = {};

/**
 * Each command type's schema compiled ahead of time by zod (`z.compile`, issue 15 item 1), the same way stored
 * events are read (domain/stored.ts): the same rules (refinements included), checked by a generated fast path
 * without zod's per-field dispatch. Only a command the compiled check accepts is taken from it; anything else is
 * parsed again by the runtime `CommandSchema`, so a refusal names exactly the same fields and rules as before, and
 * a schema zod could not compile is handed back unchanged and keeps the runtime parser. Compiled when the first
 * command of its type arrives (the whole union costs ~30 ms to compile, a cost a process using few types need not
 * pay). `test/command-parse-compiled-equals-runtime.test.ts` compares both on every type and one-value change.
 */
const compiledCommands: Partial<Record<CommandType, z.ZodType>> = {};
export const compiledCommandSchema = (type: CommandType): z.ZodType => (compiledCommands[type] ??= compiledSchema(commandOf(type)));
const compiledSentCommands: Partial<Record<CommandType, z.ZodType>> = {};
/** The same for SentCommandSchema, what the engine parses. */
export const compiledSentCommandSchema = (type: CommandType): z.ZodType => (compiledSentCommands[type] ??= compiledSchema(sentCommandOf(type)));

const typeOf = (input: unknown): CommandType | undefined => {
  if (typeof input !== 'object' || input === null) return undefined;
  const type = (input as { type?: unknown }).type;
  return typeof type === 'string' && Object.hasOwn(COMMAND_CATALOG, type) ? (type as CommandType) : undefined;
};

/** A command rule's own name (a custom issue's `params.rule`, certificate-rules.ts), else zod's code. */
const ruleOf = (issue: z.core.$ZodIssue): string =>
  issue.code === 'custom' && typeof issue.params?.['rule'] === 'string' ? (issue.params['rule'] as string) : issue.code;

const issuesOf = (error: z.ZodError): FieldIssue[] =>
  error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    rule: ruleOf(issue),
    message: issue.message,
  }));

const fieldsOf = (value: unknown): Readonly<Record<string, unknown>> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

/**
 * The issues of the rules given new commands that no field schema of CommandSchema holds, judged from the fields that
 * carry them in `input`, a command parsed or not: a revocation's reason (`new_revocation_reason`: a rule of the whole
 * command, which zod skips once any field fails), an outside sender's correlation and causation ids
 * (senderTextRefusal, no part of the schema) and the command's id in lower case (new-command-id.ts). Each is judged
 * only where the schema as sent takes its field, which a field refused for its type or length is named for alone. So a
 * command refused for one field is told at once of every rule it breaks (review 353: each was named only on a resend).
 * The route's body validator asks it too, the body's envelope given as `metadata` without an actor (an outside sender).
 */
export const newCommandIssuesAsSent = (input: unknown): FieldIssue[] => {
  const type = typeOf(input);
  if (type === undefined) return [];
  const metadata = fieldsOf(fieldsOf(input)['metadata']);
  const sent = (field: 'correlationId' | 'causationId') => {
    const value = metadata[field];
    return CommandMetadata.shape[field].safeParse(value).success ? { [field]: value as string } : {};
  };
  const commandId = CommandMetadata.shape.commandId.safeParse(metadata['commandId']);
  return newCommandIssues(type, fieldsOf(metadata['actor'])['role'], fieldsOf(fieldsOf(input)['data'])['reason'], { ...sent('correlationId'), ...sent('causationId') }, commandId.success ? commandId.data : undefined);
};

/** Those issues, of fields already taken by the schema as sent (or left out where it refused them). */
const newCommandIssues = (
  type: CommandType,
  role: unknown,
  reason: unknown,
  correlation: { readonly correlationId?: string | undefined; readonly causationId?: string | undefined },
  commandId: string | undefined,
): FieldIssue[] => {
  const reasonIssue = REVOCATION_REASON_COMMANDS.has(type) ? newRevocationReasonIssue(role, reason) : undefined;
  const sender = role === 'system' ? undefined : senderTextRefusal(correlation);
  const id = commandId === undefined ? undefined : newCommandIdRefusal(commandId);
  return [...(reasonIssue === undefined ? [] : [reasonIssue]), ...[sender, id].flatMap((refusal) => (refusal?.problem.code === 'validation' ? refusal.problem.issues : []))];
};

/** `issues` and those of `more` not already named (the same path and rule): what a refusal lists. */
export const withIssues = (issues: readonly FieldIssue[], more: readonly FieldIssue[]): FieldIssue[] => [
  ...issues,
  ...more.filter((issue) => !issues.some((named) => named.path === issue.path && named.rule === issue.rule)),
];

/**
 * Parses untrusted input into a command, or throws a validation error naming every bad field. Input nested or sized
 * beyond the message limits is refused first, naming the limit, before any schema walks it (SER-001).
 */
export const parseCommand = (input: unknown): Command => {
  const parsed = parsedWithin(input, compiledCommandSchema, CommandSchema);
  if (!parsed.success) throw validationError(issuesOf(parsed.error), 'command');
  return parsed.data as unknown as Command;
};

/**
 * `input` within the message limits (refused naming the limit), parsed by its type's compiled schema, or, that failing
 * or no type named, by `schema` itself, whose issues name every bad field.
 */
const parsedWithin = (input: unknown, compiled: (type: CommandType) => z.ZodType, schema: z.ZodType) => {
  assertJsonWithin(input, 'command', MESSAGE_JSON_LIMITS);
  const type = typeOf(input);
  if (type !== undefined) {
    const fast = compiled(type).safeParse(input);
    if (fast.success) return fast;
  }
  return schema.safeParse(input);
};

/**
 * Parses untrusted input into a command as sent (SentCommandSchema): a new one or the retry of one an earlier version
 * recorded. The same limits first; the rules of new facts are newCommandRefusal's, once the command is known to be new.
 * Refused, it is refused naming every field CommandSchema refuses and every rule newCommandIssuesAsSent finds, those
 * of new facts and of new commands' ids included: what fails the schema as sent was never recorded, so it is no retry
 * to answer, and naming one field of each kind in turn had a client resend it once per kind (reviews 348, 353).
 */
export const parseSentCommand = (input: unknown): Command => {
  const parsed = parsedWithin(input, compiledSentCommandSchema, SentCommandSchema);
  if (parsed.success) return parsed.data as unknown as Command;
  // CommandSchema holds every rule of SentCommandSchema, so it fails too; its own refusal kept should it ever not.
  const every = CommandSchema.safeParse(input);
  throw validationError(withIssues(issuesOf(every.success ? parsed.error : every.error), newCommandIssuesAsSent(input)), 'command');
};

/**
 * The refusal of a command parsed as sent that breaks a rule given new commands, or undefined, naming every one it
 * breaks (reviews 348, 353): its free text and capabilities (the issues CommandSchema names for them: the same paths,
 * rules and words), then newCommandIssuesAsSent's (a revocation's reason, an outside sender's correlation or causation
 * id, the command's id in lower case). Asked only where a command becomes new events (decide.ts), after its id was
 * looked for: a command an earlier version recorded breaking one is still answered when retried under its id (reviews
 * 86, 342).
 */
export const newCommandRefusal = (command: Command): CredenceError | undefined => {
  const rules = NEW_FACT_RULES[command.type];
  // Compiled, as the schema as sent is (the runtime schema names the issues of a command it refuses).
  const taken = rules === undefined || (compiledNewFactRules[command.type] ??= compiledSchema(rules)).safeParse(command).success;
  const judged = taken ? undefined : rules.safeParse(command);
  // A parsed command: its fields are taken as they are, not parsed again (a command's cost, on the rotation bench).
  const { metadata } = command;
  const asSent = newCommandIssues(command.type, metadata.actor.role, (command.data as { reason?: unknown }).reason, metadata, metadata.commandId);
  const issues = [...(judged === undefined || judged.success ? [] : issuesOf(judged.error)), ...asSent];
  return issues.length === 0 ? undefined : validationError(issues, 'command');
};

/** The entity stream a command is decided against. */
export const targetOf = (command: Command): { kind: EntityKind; id: string } => {
  const kind = EVENT_KIND[COMMAND_CATALOG[command.type].event];
  return { kind, id: (command.data as Record<string, string>)[ENTITY_ID_FIELD[kind]]! };
};
