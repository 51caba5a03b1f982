import { z } from 'zod';
import type { COMPLIANCE_QUERIES, ComplianceQueryName } from '../../../projections/compliance/index.ts';
import { csvColumns } from './csv.ts';
import { TimelineEntry } from './entities.ts';
import { DecimalString } from './wire.ts';

/**
 * The wire form of each compliance query's rows (bigints as decimal strings), the source of its CSV columns: a CSV
 * export has one header whichever page, and whichever optional fields the rows at hand carry, or none.
 */

type RowOf<N extends ComplianceQueryName> = ReturnType<(typeof COMPLIANCE_QUERIES)[N]['run']>[number];
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * A row schema with exactly the top-level fields of the query's rows: a field added to one and not the other does
 * not compile (the call then asks for a second argument), rather than moving a column of the CSV.
 */
const rowOf =
  <N extends ComplianceQueryName>() =>
  <S extends z.ZodObject>(schema: S, ..._sameFields: SameKeys<keyof z.infer<S>, keyof RowOf<N>> extends true ? [] : [never]): S =>
    schema;

export const COMPLIANCE_ROWS = {
  revocations: rowOf<'revocations'>()(
    z.object({
      position: DecimalString,
      streamId: z.string(),
      kind: z.string(),
      id: z.string(),
      reason: z.string(),
      occurredAt: z.string(),
      actor: z.string(),
      // Last, so that a CSV reader by column index finds the columns before it where they were (review 197).
      recordedAt: z.string(),
    }),
  ),
  actions: rowOf<'actions'>()(TimelineEntry),
  provisioned: rowOf<'provisioned'>()(
    z.object({
      position: DecimalString,
      enrolmentPosition: DecimalString,
      credentialId: z.string(),
      nodeId: z.string(),
      method: z.string(),
      occurredAt: z.string(),
      // Last, so that a CSV reader by column index finds the columns before it where they were (review 107).
      listedPosition: DecimalString,
    }),
  ),
  expiring: rowOf<'expiring'>()(
    z.object({
      position: DecimalString,
      credentialId: z.string(),
      owner: z.object({
        kind: z.string(),
        id: z.string(),
        appId: z.string().optional().describe("an `ae` owner's App-ID, when the credential names it"),
        nodeId: z.string().optional().describe("a `cse` owner's node, when the credential names it"),
      }),
      notAfter: z.string(),
      status: z.string(),
    }),
  ),
  'dangling-associations': rowOf<'dangling-associations'>()(
    z.object({
      position: DecimalString,
      associationPosition: DecimalString,
      associationId: z.string(),
      associationStatus: z.string(),
      credentialId: z.string(),
      credentialStatus: z.string(),
    }),
  ),
} satisfies Record<ComplianceQueryName, z.ZodObject>;

/**
 * Columns added after a query's first CSV, moved last: a CSV reader by column index finds the columns before them where
 * they were (review 107), though the JSON row nests them where they belong (review 155: `expiring`'s owner's App-ID and node).
 */
const ADDED_LAST: Partial<Record<ComplianceQueryName, readonly string[]>> = {
  expiring: ['owner.appId', 'owner.nodeId'],
  // Review 188: the token an action came with and who issued it; review 196: the token it was issued with.
  actions: ['token.id', 'token.issuedBy', 'token.issuedWith'],
};

/** Each query's CSV header, `position` first as in every row schema. */
export const csvColumnsOf = (name: ComplianceQueryName): readonly string[] => CSV_COLUMNS.get(name)!;

const CSV_COLUMNS = new Map(
  Object.entries(COMPLIANCE_ROWS).map(([name, schema]) => {
    const last = ADDED_LAST[name as ComplianceQueryName] ?? [];
    return [name, [...csvColumns(schema).filter((c) => !last.includes(c)), ...last]];
  }),
);
