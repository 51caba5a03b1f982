import { describe, expect, it } from 'vitest';
import { COMPLIANCE_QUERIES } from '../projections/compliance/index.ts';

/*
 * Review 205: since cursors name their log (commit 792b2c8: `<position>~<tag>`, `<key>:<id>@<position>~<tag>`), a
 * malformed `after` was still refused naming the bare forms only ("a global position, e.g. 1200";
 * "<notAfterMs>:<credentialId>, e.g. 1767225600000:cred-1"), not the form every page prints. Each refusal now names
 * the tagged form first, then the bare one still taken.
 */
const messageOf = (name: keyof typeof COMPLIANCE_QUERIES, params: Record<string, string>): string => {
  const parsed = COMPLIANCE_QUERIES[name].params.safeParse(params);
  expect(parsed.success, JSON.stringify(params)).toBe(false);
  return parsed.error!.issues[0]!.message;
};

describe('a malformed compliance cursor', () => {
  it('of a query in log order is refused naming <position>~<tag> first', () => {
    for (const after of ['74~xyz', 'abc', '12:cred-1']) {
      const said = messageOf('revocations', { after });
      expect(said, after).toMatch(/^the nextAfter of the page before, <position>~<tag>\.<q8>, e\.g\. 1200~5e0306c9\.0b5c4e7a \(or a bare position, e\.g\. 1200\)/);
    }
  });

  it("of expiring is refused naming <notAfterMs>:<credentialId>@<position>~<tag> first", () => {
    for (const after of ['cred-1', '12', '1767225600000:cred-1@74~xyz']) {
      const said = messageOf('expiring', { days: '30', after });
      expect(said, after).toMatch(/^the nextAfter of the page before, <notAfterMs>:<credentialId>@<position>~<tag>\.<q8>, e\.g\. 1767225600000:cred-1@1200~5e0306c9\.0b5c4e7a \(or without its @<position>~<tag>\.<q8>\)/);
    }
  });

  it('of dangling-associations is refused naming <position>:<associationId>@<position>~<tag> first', () => {
    const said = messageOf('dangling-associations', { after: 'assoc-1' });
    expect(said).toMatch(/^the nextAfter of the page before, <position>:<associationId>@<position>~<tag>\.<q8>, e\.g\. 1042:assoc-1@1042~5e0306c9\.0b5c4e7a \(or without its @<position>~<tag>\.<q8>\)/);
  });
});
