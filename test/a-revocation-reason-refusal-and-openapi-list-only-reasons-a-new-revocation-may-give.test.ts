/**
 * Review 46: a bad `reason` on POST /v1/commands was told "expected one of … certificateHold … aACompromise", and the
 * OpenAPI document's enum listed both, yet a retry with certificateHold is refused (`new_revocation_reason`). The
 * refusal and the document now list the reasons a new revocation may give (NEW_REVOCATION_REASONS); the cascade's
 * `system` commands and stored events still carry every reason (a-new-revocation-refuses-a-reason-that-says-it-is-not-permanent).
 */
import { describe, expect, it } from 'vitest';
import { command, NEW_REVOCATION_REASONS } from '../domain/commands/index.ts';
import { cmd, establishOne, fixture, operator, rejection } from './support/fleet.ts';
import { useTestService } from './support/service.ts';

const LISTED = `expected one of ${NEW_REVOCATION_REASONS.map((r) => `"${r}"`).join('|')}`;

/** Every `reason` property of a JSON Schema, however deep. */
const reasonSchemas = (node: unknown): { enum?: string[] }[] => {
  if (typeof node !== 'object' || node === null) return [];
  const own = (node as { properties?: { reason?: { enum?: string[] } } }).properties?.reason;
  return [...(own !== undefined ? [own] : []), ...Object.values(node).flatMap(reasonSchemas)];
};

describe('a revocation reason a new command may not give is never offered', () => {
  const svc = useTestService();

  it('an unknown reason is refused listing only the reasons a new revocation may give', async () => {
    const f = fixture();
    await establishOne(f.engine);
    const error = await rejection(f.engine.execute(command('revokeCredential', { credentialId: 'cred-1', reason: 'compromised' }, { actor: operator })));
    expect(error.problem).toMatchObject({ code: 'validation', issues: [{ path: 'data.reason', rule: 'invalid_value', message: `Invalid option: ${LISTED}` }] });
    // What it offers is accepted.
    await f.engine.execute(cmd.revokeCredential('cred-1', NEW_REVOCATION_REASONS[0]!));
  });

  it('POST /v1/commands answers the same, naming no certificateHold or aACompromise', async () => {
    const reply = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'revokeCredential', data: { credentialId: 'cred-1', reason: 'compromised' } }),
    });
    expect(reply.status).toBe(400);
    const text = await reply.text();
    expect(JSON.parse(text)).toMatchObject({ errors: [{ path: 'body.data.reason', rule: 'invalid_value', message: `Invalid option: ${LISTED}` }] });
    expect(text).not.toMatch(/certificateHold|aACompromise/);
  });

  it("the OpenAPI document's command reasons are those a new revocation may give", async () => {
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as { paths: Record<string, { post: { requestBody: unknown } }> };
    const reasons = reasonSchemas(doc.paths['/v1/commands']!.post.requestBody).filter((s) => s.enum !== undefined);
    expect(reasons.length).toBeGreaterThanOrEqual(4);
    for (const schema of reasons) {
      expect(schema.enum).not.toContain('certificateHold');
      expect(schema.enum).not.toContain('aACompromise');
    }
  });
});
