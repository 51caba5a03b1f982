import { z } from 'zod';
import { validationError, type CredenceError } from '../errors.ts';
import { ApplicationRegistered } from '../events/application.ts';
import { Owner } from '../events/common.ts';
import { NodeProfile, NodeRegistered } from '../events/node.ts';
import { SubscriptionCreated, SubscriptionTerminated } from '../events/subscription.ts';
import { PRINTABLE_RULE, printableText } from './printable-text.ts';
import type { CommandType } from './catalog.ts';

/**
 * The free-text fields of new commands, each visible text on one line (printable-text.ts, rule `printable`; review 186:
 * a termination reason with a terminal escape and a line break, a subscriber clearing the screen, a manufacturer with a
 * bidi override and a class of spaces were stored, to be printed by the CLI, the console and the audit trail). The
 * resolution's reason has its own (resolution-reason.ts); the correlation and causation ids are judged from outside
 * senders only (senderTextRefusal).
 * Not free text, and left to their own rules: ids (their patterns, domain/ids.ts), base64url keys, proofs and DER; a
 * certificate's subject, issuer and serial (what the certificate states, in RFC 4514 form and possibly empty, checked
 * against its DER for Credence's CAs by certificate-rules.ts); and the provisioning receipt (a signed statement,
 * recorded exactly as it was signed). Stored events keep their event schemas: what was recorded still reads.
 */

const capabilities = NodeProfile.shape.capabilities;

/** The rule a node profile breaks that names one capability twice. */
export const REPEATED_CAPABILITY_RULE = 'repeated_capability';

/**
 * Each capability visible text, the list bounded as its event's is (its definition cloned, the element replaced), and
 * each named once: a profile states what a node can do, and `--capability metering --capability metering` stored the
 * capability twice, to be counted twice by whatever reads the profile. Commands only: a stored profile still reads.
 */
const CommandCapabilities = (
  capabilities.clone({ ...capabilities._zod.def, element: printableText(capabilities.element) } as never) as typeof capabilities
).superRefine((listed, ctx) => {
  const seen = new Set<string>();
  for (const [index, capability] of listed.entries()) {
    if (seen.has(capability)) {
      ctx.addIssue({ code: 'custom', path: [index], params: { rule: REPEATED_CAPABILITY_RULE }, message: `names capability ${JSON.stringify(capability)} again: name each capability once` });
    }
    seen.add(capability);
  }
});

/** A node profile as a new command states it (registerNode, and the device simulator's factory step). */
export const CommandProfile = NodeProfile.extend({
  class: printableText(NodeProfile.shape.class),
  manufacturer: printableText(NodeProfile.shape.manufacturer),
  model: printableText(NodeProfile.shape.model),
  capabilities: CommandCapabilities,
});

/** A credential owner's id as a new command names it: of any kind, visible text (the kinds' own ids are no stricter here). */
export const CommandOwner = Owner.extend({ id: printableText(Owner.shape.id) });

/**
 * The free-text fields of each command's data that has some, as a new command must state them (issueCredential's owner
 * is command.ts's). Judged once a command is known to be new (command.ts newCommandRefusal, review 342).
 */
export const FREE_TEXT_FIELDS: Partial<Record<CommandType, z.ZodRawShape>> = {
  createSubscription: { subscriber: printableText(SubscriptionCreated.shape.subscriber) },
  terminateSubscription: { reason: printableText(SubscriptionTerminated.shape.reason) },
  registerNode: { profile: CommandProfile },
  registerApplication: { name: printableText(ApplicationRegistered.shape.name), provider: printableText(ApplicationRegistered.shape.provider) },
};

/** The events whose data FREE_TEXT_FIELDS refines, by command type. */
const FREE_TEXT_EVENTS = {
  createSubscription: SubscriptionCreated,
  terminateSubscription: SubscriptionTerminated,
  registerNode: NodeRegistered,
  registerApplication: ApplicationRegistered,
} as const satisfies Partial<Record<CommandType, z.ZodObject>>;

/** Command data whose only rules beyond their event's are free text's: their event's data with FREE_TEXT_FIELDS. */
export const FREE_TEXT_DATA: Partial<Record<CommandType, z.ZodType>> = Object.fromEntries(
  Object.entries(FREE_TEXT_EVENTS).map(([type, event]) => [type, (event as z.ZodObject).extend(FREE_TEXT_FIELDS[type as CommandType]!)]),
);

/** A correlation or causation id as an outside sender (the API, the CLI, a library caller) may set it. */
export const SenderCorrelationId = printableText(z.string().min(1).max(200));

/**
 * Visible ASCII within SenderCorrelationId's bounds, which it always takes: judged without its scan, as nearly every
 * correlation id is (a UUID), since it runs for every command an operator or the infrastructure sends (~4 µs a
 * command, measured on the rotation bench, review 342's move of the rule into decide()).
 */
const VISIBLE_ASCII = /^[\x21-\x7e]{1,200}$/;

/**
 * The refusal of an outside sender's correlation or causation id that is not visible text on one line (review 186), or
 * undefined. Not in CommandMetadata: the engine's own reactions carry on the correlation id of the stored event they
 * react to, and one an earlier version recorded with a control character must not refuse the cascade or a rotation.
 */
export const senderTextRefusal = (metadata: { readonly correlationId?: string | undefined; readonly causationId?: string | undefined }): CredenceError | undefined => {
  const issues = (['correlationId', 'causationId'] as const).flatMap((field) => {
    const value = metadata[field];
    if (value === undefined || VISIBLE_ASCII.test(value)) return [];
    const parsed = SenderCorrelationId.safeParse(value);
    return parsed.success ? [] : parsed.error.issues.map((issue) => ({ path: `metadata.${field}`, rule: PRINTABLE_RULE, message: issue.message }));
  });
  return issues.length === 0 ? undefined : validationError(issues, 'command');
};
