/**
 * The append arguments both stores refuse alike, so a direct caller of the port gets the same outcome on either.
 * Caller mistakes are programming errors: they throw plain errors that name the argument.
 */
import { validationError } from '../../../domain/errors.ts';
import { FactClaimData } from '../../../domain/fact-claims.ts';
import type { AppendOptions, EventToAppend, ExpectedRevision, FactRead, JsonObject } from '../../../domain/ports/event-store.ts';

const LONE_SURROGATE = /\p{Surrogate}/u;

/** An object and not an array: what a JSON object parses to. */
export const isPlainObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A non-empty string that reads back as written. A lone surrogate reaches SQLite as bytes that read back as other
 * characters (U+FFFD): a stream appended to under such an id was read back under another, and an append to the id as
 * read went to yet another stream (found in review 23); nor could the rows of a `readStreams` call be told apart.
 */
export const checkId = (value: unknown, argument: string): string => {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${argument}: must be a non-empty string`);
  if (LONE_SURROGATE.test(value)) throw new Error(`${argument}: must be well-formed Unicode (no lone surrogate)`);
  return value;
};

export function checkEventsToAppend(streamId: unknown, events: readonly EventToAppend[]): void {
  checkId(streamId, 'streamId');
  if (!Array.isArray(events) || events.length === 0) {
    throw new Error('events: must be a non-empty array (an append of nothing is a caller mistake)');
  }
  events.forEach((event, i) => {
    checkId(event.id, `events[${i}].id`);
    checkId(event.type, `events[${i}].type`);
    if (!isPlainObject(event.data)) throw new Error(`events[${i}].data: must be a JSON object`);
    if (!isPlainObject(event.metadata)) throw new Error(`events[${i}].metadata: must be a JSON object`);
  });
}

/** Facts are other streams: a fact on the stream being appended to would be a second, weaker expectedRevision. */
export function checkFacts(streamId: string, facts: readonly FactRead[] | undefined): void {
  if (facts === undefined) return;
  if (!Array.isArray(facts)) throw new Error('options.facts: must be an array');
  facts.forEach((fact, i) => {
    checkId(fact.streamId, `options.facts[${i}].streamId`);
    if (fact.streamId === streamId) throw new Error(`options.facts[${i}].streamId: must be another stream than the one appended to`);
    if (fact.revision !== undefined && typeof fact.revision !== 'bigint') throw new Error(`options.facts[${i}].revision: must be a bigint or undefined`);
  });
}

/**
 * Checked at the call, like the facts' revisions (review 184): a number revision was compared to the stream's bigint
 * head and refused as a retryable conflict that contradicted itself ("expected at revision 0 but is at revision 0"),
 * and a missing expectation threw a TypeError from inside the embedded store's group commit.
 */
export function checkExpectedRevision(expected: ExpectedRevision | undefined): void {
  if (!isPlainObject(expected)) throw new Error("options.expectedRevision: must be an object of kind 'no_stream', 'any' or 'exact'");
  const { kind, revision } = expected as { kind?: unknown; revision?: unknown };
  if (kind !== 'no_stream' && kind !== 'any' && kind !== 'exact') {
    throw new Error("options.expectedRevision.kind: must be 'no_stream', 'any' or 'exact'");
  }
  if (kind === 'exact' && (typeof revision !== 'bigint' || revision < 0n)) throw new Error('options.expectedRevision.revision: must be a non-negative bigint');
}

/** The longest claimant and command id a fact claim holds (domain/fact-claims.ts); read from its schema, not copied. */
const CLAIMANT_LIMIT = FactClaimData.shape.claimant.maxLength ?? Number.POSITIVE_INFINITY;
const CLAIM_COMMAND_ID_LIMIT = FactClaimData.shape.commandId.maxLength ?? Number.POSITIVE_INFINITY;

/**
 * An append with facts or a certified key writes, on EventStoreDB, a claim naming its stream and command id on each
 * fact's stream and on the key's (eventstoredb/append.ts); a claim past the schema's limits made the fact's stream
 * unreadable ("malformed fact claim"), and every later decision that read it refused (review 421). Such an append is
 * refused on every store alike, writing nothing: a typed validation error naming the argument and the limit. Without
 * facts or a key the ids may be of any length. Called once the ids are checked (checkId).
 */
export function checkClaimLimits(streamId: string, options: Pick<AppendOptions, 'commandId' | 'facts' | 'certifiesKey'>): void {
  const claims = (Array.isArray(options.facts) && options.facts.length > 0) || options.certifiesKey !== undefined;
  if (!claims) return;
  const issues = [
    ...(streamId.length > CLAIMANT_LIMIT ? [{ path: 'streamId', limit: CLAIMANT_LIMIT }] : []),
    ...(options.commandId !== undefined && options.commandId.length > CLAIM_COMMAND_ID_LIMIT ? [{ path: 'options.commandId', limit: CLAIM_COMMAND_ID_LIMIT }] : []),
  ].map(({ path, limit }) => ({
    path,
    rule: 'fact_claim_limit',
    message: `must be at most ${limit} characters when the append has facts or certifies a key (its fact and key claims hold no more)`,
  }));
  if (issues.length > 0) throw validationError(issues, 'append');
}
