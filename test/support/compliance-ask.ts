import type { Credence } from '../../adapters/runtime/index.ts';
import { answerQuery, COMPLIANCE_QUERIES, type ComplianceQueryName } from '../../projections/compliance/index.ts';

/**
 * A compliance query asked of `c`'s read models at `now` as the API asks it: its parameters parsed by the catalog
 * first, so a refusal is the catalog's issues and nothing is answered.
 */
export const askCompliance = (c: Credence, name: ComplianceQueryName, params: Record<string, string>, now: Date) => {
  const parsed = COMPLIANCE_QUERIES[name].params.safeParse(params);
  if (!parsed.success) return { ok: false, issues: parsed.error.issues } as const;
  return { ok: true, rows: answerQuery(name, c.readModels, parsed.data, now).rows } as const;
};
