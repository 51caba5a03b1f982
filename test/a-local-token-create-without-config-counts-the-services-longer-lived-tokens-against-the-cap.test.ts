/**
 * Review 166 (F3): a local `token create` without `--config` judges lifetimes by its own default
 * `tokens.maxTtlSeconds` (90 days), not the service's. Its subject cap left the service's longer-lived tokens out, as
 * refused, and issued past the cap: the service at a year, three 200-day tokens of alice's, cap 3, a fourth issued.
 * A local command's lifetime limit is not the service's: it counts as the listing does, refusing no lifetime.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openAccessControl } from '../adapters/http/auth/open-access-control.ts';

const dir = mkdtempSync(join(tmpdir(), 'credence-local-cap-'));
const YEAR = 365 * 86_400;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("a local token create without --config counts the service's longer-lived tokens against the subject cap", async () => {
  const service = await openAccessControl(dir, { tokens: { maxTtlSeconds: YEAR, maxActivePerSubject: 3 } });
  try {
    for (let i = 0; i < 3; i++) await service.access.issue({ subject: 'alice', role: 'auditor', ttlSeconds: 200 * 86_400, issuedBy: 'test' });
  } finally {
    service.close();
  }
  const local = await openAccessControl(dir, { tokens: { maxActivePerSubject: 3 } });
  try {
    await expect(local.access.issue({ subject: 'alice', role: 'auditor', ttlSeconds: 3_600, issuedBy: 'test' })).rejects.toMatchObject({
      problem: { code: 'validation', issues: [{ rule: 'active_tokens' }] },
    });
  } finally {
    local.close();
  }
});
