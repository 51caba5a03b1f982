import { SYSTEM_ACTOR_IDS, SYSTEM_ACTOR_PREFIX } from '../../../domain/metadata.ts';

/**
 * The actor id the Enrolment Function and the Registrar CSE record what they do under (`INFRASTRUCTURE_ACTOR` of
 * adapters/http/start.ts, which should take it from here: start.ts imports this folder, so this folder cannot
 * import start.ts without a cycle). test/http-tokens.test.ts checks the two agree.
 */
export const INFRASTRUCTURE_ACTOR_ID = 'maf:infrastructure';

/** Ids of the M2M Authentication Function (seed 003 clause 11.2.1): the infrastructure's own actors. */
export const INFRASTRUCTURE_ACTOR_PREFIX = 'maf:';

/**
 * What the log records as the issuer of a token made on the command line (`metadata.token.issuedBy`), and the prefix
 * access.db records such a token's issuer under (`cli:<OS account>`, bin/commands/token-target.ts localActor): whoever
 * may write the data folder. A subject of either form would pass a token issued through the service (or the tokens it
 * issues) off as one made there (review 257), so neither can be a token's subject.
 */
export const COMMAND_LINE_ISSUER = 'cli';
export const COMMAND_LINE_ISSUER_PREFIX = `${COMMAND_LINE_ISSUER}:`;

/** The rule a reserved subject breaks, as a refusal names it (`errors[].rule`). */
export const RESERVED_SUBJECT_RULE = 'reserved_subject';

export const RESERVED_SUBJECT_MESSAGE =
  `reserved: ${SYSTEM_ACTOR_PREFIX}… (the engine's own actors), ${INFRASTRUCTURE_ACTOR_PREFIX}… (the infrastructure, ` +
  `e.g. ${INFRASTRUCTURE_ACTOR_ID}) and ${COMMAND_LINE_ISSUER} or ${COMMAND_LINE_ISSUER_PREFIX}… (the issuer of a token made on the ` +
  `command line) in any letter case cannot be a token's subject`;

const RESERVED_PREFIXES = [SYSTEM_ACTOR_PREFIX, INFRASTRUCTURE_ACTOR_PREFIX, COMMAND_LINE_ISSUER_PREFIX].map((p) => p.toLowerCase());
const RESERVED_IDS = new Set([...SYSTEM_ACTOR_IDS, INFRASTRUCTURE_ACTOR_ID, COMMAND_LINE_ISSUER].map((id) => id.toLowerCase()));

/**
 * True for a subject a token must never carry: a command sent with it would be recorded under an actor id that
 * reads as the engine's (`system:…`) or the infrastructure's (`maf:…`), or the tokens it issues would read as made on
 * the command line (`cli`, `cli:…`). Compared trimmed and ignoring case, as the engine's admission does for `system:`
 * (adapters/engine/admission.ts), so `SYSTEM:expiry-scheduler`, ` Maf:infrastructure` and `CLI:root` are refused too.
 */
export const isReservedSubject = (subject: string): boolean => {
  const normalised = subject.trim().toLowerCase();
  return RESERVED_IDS.has(normalised) || RESERVED_PREFIXES.some((prefix) => normalised.startsWith(prefix));
};
