import { z } from 'zod';

/**
 * Identifiers in the language of the seeds. Each is a branded string: raw input cannot be used where a parsed
 * identifier is required. The patterns follow oneM2M TS-0001 conventions where the seeds name them.
 */

const token = /^[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$/;
const tokenRule = 'letters, digits and . _ : ~ - (1 to 128, starting with a letter or digit)';
/**
 * The rest of an id whose first letter says what it is (AE-ID, App-ID). Said whole, because one pattern checks prefix,
 * characters and length at once: an App-ID of R and a space, or of 129 characters, was told only about its first
 * letter (review 343).
 */
const prefixedRule = 'then letters, digits and . _ : ~ - (1 to 128 characters in all)';

/**
 * Every identifier is bounded twice: its pattern allows at most 129 characters, and this maximum is checked first,
 * so oversized input is refused on its length before any pattern reads it (SER-001).
 */
const MAX_ID = 256;
const id = () => z.string().max(MAX_ID);

/** Canonical, unique and immutable identity of an M2M Node, established at Initialization (seed 004). */
export const NodeId = id().regex(token, `Node-ID must be ${tokenRule}`).brand<'NodeId'>();
export type NodeId = z.infer<typeof NodeId>;

/** CSE-ID: SP-relative form `/<id>` as in oneM2M (the Registrar CSE-ID of Association Configuration, 11.3.1). */
export const CseId = id()
  .regex(/^\/[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$/, `CSE-ID must be "/" followed by ${tokenRule}, e.g. /in-cse`)
  .brand<'CseId'>();
export type CseId = z.infer<typeof CseId>;

/** AE-ID: starts with C (CSE-assigned) or S (SP-assigned) in oneM2M. */
export const AeId = id()
  .regex(/^[CS][A-Za-z0-9._:~-]{0,127}$/, `AE-ID must start with C (CSE-assigned) or S (SP-assigned), ${prefixedRule}`)
  .brand<'AeId'>();
export type AeId = z.infer<typeof AeId>;

/** App-ID: starts with R (registered with an M2M application registration authority) or N (not registered). */
export const AppId = id()
  .regex(/^[RN][A-Za-z0-9._:~-]{0,127}$/, `App-ID must start with R (registered) or N (non-registered), ${prefixedRule}`)
  .brand<'AppId'>();
export type AppId = z.infer<typeof AppId>;

/** M2M-Sub-ID: the M2M Service Subscription a node is enrolled under (seed 003, 11.1). */
export const M2MSubId = id().regex(token, `M2M-Sub-ID must be ${tokenRule}`).brand<'M2MSubId'>();
export type M2MSubId = z.infer<typeof M2MSubId>;

export const CredentialId = id().regex(token, `credential id must be ${tokenRule}`).brand<'CredentialId'>();
export type CredentialId = z.infer<typeof CredentialId>;

export const AssociationId = id().regex(token, `association id must be ${tokenRule}`).brand<'AssociationId'>();
export type AssociationId = z.infer<typeof AssociationId>;

/**
 * An opaque idempotency key, recorded and compared exactly as sent, letter case included, as stored ids have always
 * been kept (the store's key, the events' metadata, the event ids derived from it, EventStoreDB's claim stream): a
 * client retries with the id it sent. Folding the case (review 78) left a command recorded under an upper-case id
 * unfound by its retry (review 86).
 */
export const CommandId = z.uuid('command id must be a UUID').brand<'CommandId'>();
export type CommandId = z.infer<typeof CommandId>;

/**
 * Whether a command id is in RFC 9562's lower-case form (section 4: hex digits a to f are output in lower case, and
 * compared case-insensitively on input). Ids are compared as sent (above), so the same UUID sent again in another case
 * was another command: a second rotation (review 186). A new command's id must be in this form
 * (domain/commands/new-command-id.ts); one recorded before in another stays readable and answers its retries.
 */
export const isLowerCaseCommandId = (commandId: string): boolean => !/[A-F]/.test(commandId);

/**
 * ISO 8601 instant with offset; kept as a string in events so the stored bytes are what was decided. A field left out
 * is said to be required (review 205: a missing `notBefore` read "must be an ISO 8601 date-time", as if a value of
 * another form had been given); said here, by the schema, so that the service's body schema and the engine agree.
 */
export const Instant = z.iso.datetime({
  offset: true,
  error: (issue) => (issue.input === undefined ? 'is required: an ISO 8601 date-time' : 'must be an ISO 8601 date-time'),
});
export type Instant = z.infer<typeof Instant>;
