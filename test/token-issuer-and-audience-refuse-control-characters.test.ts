/**
 * Review 324 item 3: `tokens.issuer` and `tokens.audience` took control characters (a line break, an escape, NUL),
 * which host, data, store and signing refuse: they are written into every token and said in refusals.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { validationIssuesOf as issuesOf } from './support/validation-issues.ts';

const scratch = temporaryFolders('credence-token-controls-');

describe('tokens.issuer and tokens.audience', () => {
  it.each([['a line break', 'cred\nence'], ['an escape', 'cred\u001b[31mence'], ['NUL', 'cred\u0000ence'], ['a C1 control', 'cred\u0085ence']])(
    'refuse %s, naming the field and the file',
    (_what, value) => {
      const file = join(scratch(), 'credence.json');
      writeFileSync(file, JSON.stringify({ tokens: { issuer: value, audience: value } }));
      const issues = issuesOf(() => loadServiceConfig({ file }));
      expect(issues.map((i) => i.path).sort()).toEqual([`file ${file}: tokens.audience`, `file ${file}: tokens.issuer`]);
      for (const issue of issues) expect(issue.message).toContain('must not hold control characters');
    },
  );

  it('take printable text', () => {
    const file = join(scratch(), 'credence.json');
    writeFileSync(file, JSON.stringify({ tokens: { issuer: 'https://credence.example/é', audience: 'credence api' } }));
    expect(loadServiceConfig({ file }).tokens).toMatchObject({ issuer: 'https://credence.example/é', audience: 'credence api' });
  });
});
