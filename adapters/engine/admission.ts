import { COMMAND_CATALOG, parseSentCommand, type Command } from '../../domain/commands/index.ts';
import { unauthorised, validationError } from '../../domain/errors.ts';
import { isDerivedCommandId } from '../../domain/event-ids.ts';
import { SYSTEM_ACTOR_PREFIX } from '../../domain/metadata.ts';
import { INFRASTRUCTURE_ACTOR_ID, INFRASTRUCTURE_ACTOR_ROLE, INFRASTRUCTURE_COMMAND_TYPES } from '../../domain/signing/index.ts';
import { randomCommandId } from './command-ids.ts';

/**
 * The steps a command passes before anything is read: each may refuse it with a typed error and none writes.
 * A new concern (tenancy, rate limits, tracing) is one more step in the engine's list, not a branch in the pipeline.
 * `at` is the engine clock's instant the command is decided and recorded at (its events' `occurredAt`).
 */
/**
 * One check of a command before it is decided, at instant `at`. `signedAt`, when given, is the instant its request
 * signature is judged at instead: the instant a repeat of a recorded signed command was first recorded (engine.ts).
 * `asInfrastructure`: sent through executeAsInfrastructure, the security procedures' own path (absent: it was not).
 */
export type AdmissionStep = (
  command: Command,
  via: { readonly asSystem: boolean; readonly asInfrastructure?: boolean; readonly at: Date; readonly signedAt?: Date },
) => void | Promise<void>;

/**
 * Fills in a command id when the caller gave none, before parsing, so every stored event has one. The id comes before
 * the spread (the metadata holds no `commandId` to override it): after it, V8 gave every command's metadata a hidden
 * class of its own, which cost its building about 1 µs and made every later reader of it (the JSON limits, the zod
 * parse) miss its inline caches (docs/performance.md, "Twenty-seventh round").
 */
const withCommandId = (input: unknown): unknown => {
  if (typeof input !== 'object' || input === null) return input;
  const metadata = (input as { metadata?: unknown }).metadata;
  if (typeof metadata !== 'object' || metadata === null || 'commandId' in metadata) return input;
  return { ...input, metadata: { commandId: randomCommandId(), ...metadata } };
};

/**
 * Step 1, parse: the zod schema of a command as sent; a failure is a `validation` error with every field path. Not the
 * rules of new facts (free text, each capability once, a permanent revocation reason, the sender's correlation ids):
 * decide() judges them once the command id is known not to be recorded, so a retry of what an earlier version recorded
 * breaking one is answered with its first outcome (review 342), as one under an upper-case id is (review 186).
 */
export const parse = (input: unknown): Command => parseSentCommand(withCommandId(input));

/**
 * The actor ids the engine acts under itself: every `system:` id (in any letter case, leading blanks ignored) and
 * the ids it is configured to run as system. They are reserved whatever role a sender claims with them, so an
 * event never shows an operator under an id that reads as the engine's.
 */
const isReservedActorId = (id: string, systemActors: ReadonlySet<string>): boolean =>
  systemActors.has(id) || id.trimStart().toLowerCase().startsWith(SYSTEM_ACTOR_PREFIX);

/**
 * The infrastructure's actor id (domain/signing/policy.ts), in any letter case: no policy requires its signature, so
 * a caller able to claim it recorded unsigned commands under any policy (review 147), and an id that reads as it
 * would show the infrastructure acting where it did not.
 */
const isInfrastructureActorId = (id: string): boolean => id.toLowerCase() === INFRASTRUCTURE_ACTOR_ID;

/**
 * Step 2, authorise: the catalog's roles for the command type, the `system` role only through executeAsSystem,
 * the system actor ids only with the `system` role, and the infrastructure's id only through executeAsInfrastructure
 * (the security procedures, recording what a device proved), exactly and as `operator`, and that path only for the
 * procedures' own commands (INFRASTRUCTURE_COMMAND_TYPES). A reserved id under another
 * role is `unauthorised`, not `validation`: the id is well formed, this sender is just not allowed to act under it.
 * (Not a rule of the Actor schema either: stored events share that schema, and those an operator recorded under a
 * `system:` id before the rule must still decode, as evidence.)
 */
export const authorise = (systemActors: ReadonlySet<string>): AdmissionStep => (command, { asSystem, asInfrastructure }) => {
  const { roles } = COMMAND_CATALOG[command.type];
  const { actor } = command.metadata;
  if (!(roles as readonly string[]).includes(actor.role)) {
    throw unauthorised(actor.id, `role ${actor.role} may not ${command.type}`);
  }
  // Input from outside can claim any role; only in-process system actors, through executeAsSystem, hold this one.
  if ((actor.role === 'system') !== asSystem || (asSystem && !systemActors.has(actor.id))) {
    throw unauthorised(actor.id, "the system role is reserved to the engine's own process manager, scheduler and pseudonym rotation");
  }
  if (actor.role !== 'system' && isReservedActorId(actor.id, systemActors)) {
    throw unauthorised(actor.id, `actor ids starting with ${SYSTEM_ACTOR_PREFIX} (and the engine's system actor ids) are reserved to the engine's system actors`);
  }
  if (isInfrastructureActorId(actor.id) && !(asInfrastructure === true && actor.id === INFRASTRUCTURE_ACTOR_ID && actor.role === INFRASTRUCTURE_ACTOR_ROLE)) {
    throw unauthorised(
      actor.id,
      `the actor id ${INFRASTRUCTURE_ACTOR_ID} is reserved to the Enrolment Function and the Registrar CSE, as ${INFRASTRUCTURE_ACTOR_ROLE}`,
    );
  }
  // The procedures' path records what they do and nothing else: its exemption from signing must not cover a command
  // no device procedure sends (policy.ts).
  if (asInfrastructure === true && !INFRASTRUCTURE_COMMAND_TYPES.has(command.type)) {
    throw unauthorised(
      actor.id,
      `the Enrolment Function and the Registrar CSE record ${[...INFRASTRUCTURE_COMMAND_TYPES].join(', ')}; not ${command.type}`,
    );
  }
};

/**
 * Step 2b, reserved command ids: a derived id is the engine's alone, so a sender who is not the system may not use
 * one. A derived id is computable ahead of its reaction from ids the sender chose (a cascade's from its cause's
 * command id), so a command recorded under it first took the reaction's id: the cascade then found its revocation
 * "done" and a node's credential stayed enrolled under a revoked node (found in review; RS-16, HLR-212, seed 003
 * 11.2.2). Refused as malformed for this sender, before anything is read: the id is a fact of the input alone.
 */
export const reserveDerivedCommandIds: AdmissionStep = (command, { asSystem }) => {
  const { commandId } = command.metadata;
  if (asSystem || !isDerivedCommandId(commandId)) return;
  throw validationError(
    [{
      path: 'metadata.commandId',
      rule: 'reserved_command_id',
      message: `${commandId} is a version 8 UUID, the form of the ids the engine derives for its own reactions; send another version (a random version 4 one)`,
    }],
    'command',
  );
};

/**
 * Step 3, verify the request signature (non-repudiation, SER-016) with the configured verifier, at the instant the
 * command is decided and recorded at: the engine's clock, never the signer's, judges whether it is still valid, and
 * the stored re-check judges it at the same instant (the event's `occurredAt`).
 */
export const verifyRequestSignature =
  (verify: (command: Command, at: { readonly now: Date }) => Promise<void> | void): AdmissionStep =>
  (command, { at, signedAt }) =>
    verify(command, { now: signedAt ?? at });
