import { COMMAND_CATALOG, parseCommand, type Command } from '../../domain/commands/index.ts';
import { unauthorised } from '../../domain/errors.ts';
import { randomCommandId } from './command-ids.ts';

/**
 * The steps a command passes before anything is read: each may refuse it with a typed error and none writes.
 * A new concern (tenancy, rate limits, tracing) is one more step in the engine's list, not a branch in the pipeline.
 */
export type AdmissionStep = (command: Command, via: { readonly asSystem: boolean }) => void | Promise<void>;

/** Fills in a command id when the caller gave none, before parsing, so every stored event has one. */
const withCommandId = (input: unknown): unknown => {
  if (typeof input !== 'object' || input === null) return input;
  const metadata = (input as { metadata?: unknown }).metadata;
  if (typeof metadata !== 'object' || metadata === null || 'commandId' in metadata) return input;
  return { ...input, metadata: { ...metadata, commandId: randomCommandId() } };
};

/** Step 1, parse: the zod command schema; a failure is a `validation` error with every field path. */
export const parse = (input: unknown): Command => parseCommand(withCommandId(input));

/** Step 2, authorise: the catalog's roles for the command type, and the `system` role only through executeAsSystem. */
export const authorise = (systemActors: ReadonlySet<string>): AdmissionStep => (command, { asSystem }) => {
  const { roles } = COMMAND_CATALOG[command.type];
  const { actor } = command.metadata;
  if (!(roles as readonly string[]).includes(actor.role)) {
    throw unauthorised(actor.id, `role ${actor.role} may not ${command.type}`);
  }
  // Input from outside can claim any role; only in-process system actors, through executeAsSystem, hold this one.
  if ((actor.role === 'system') !== asSystem || (asSystem && !systemActors.has(actor.id))) {
    throw unauthorised(actor.id, "the system role is reserved to the engine's own process manager, scheduler and pseudonym rotation");
  }
};

/** Step 3, verify the request signature (non-repudiation, SER-016) with the configured verifier. */
export const verifyRequestSignature = (verify: (command: Command) => Promise<void> | void): AdmissionStep => (command) => verify(command);
