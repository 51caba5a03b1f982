import { describe, expect, it } from 'vitest';
import { cannedServer } from './support/canned-server.ts';
import { runCli } from './support/cli.ts';

/*
 * Review 398: `credence state --server` printed the state, then failed with an untyped "Invalid time value" (exit 1,
 * which `state` also gives for a broken history) when the server's context held a deadline outside the Date range.
 * The context's deadlines are epoch ms (the machine's, as GET /v1/entities/{kind}/{id}/state sends them): one out of
 * range is an answer out of shape, refused as every other one (docs/service.md, CLI exit codes: exit 1, naming the
 * route and the field) before anything is printed.
 */
const ROUTE = '/v1/entities/credential/meter-1/state';
const answer = (context: Record<string, unknown>) =>
  JSON.stringify({
    streamId: 'credential-meter-1',
    at: '2026-02-01T00:00:00.000Z',
    state: 'active',
    asOf: { position: '3', revision: '1', type: 'CredentialActivated', occurredAt: '2026-01-01T00:00:00.000Z' },
    verdict: { ok: true },
    context,
  });

describe('credence state --server with a context date out of range', () => {
  const server = cannedServer();
  const state = (...extra: string[]) => runCli(['state', 'credential-meter-1', '--at', '2026-02-01T00:00:00Z', '--server', server.url(), '--token', 'a.b.c', ...extra]);

  for (const field of ['notAfter', 'overlapEndsAt'] as const) {
    for (const value of [-1e17, 1e17]) {
      it(`refuses ${field} ${value} as an answer out of shape, naming the route and the field, printing nothing`, async () => {
        server.answers.set(ROUTE, answer({ notBefore: 0, notAfter: 1_767_225_600_000, [field]: value }));
        for (const json of [[], ['--json']]) {
          const result = await state(...json);
          expect(result.out).toBe('');
          expect(result.code).toBe(1);
          expect(result.err).toContain('/v1/entities/{kind}/{id}/state');
          expect(result.err).toContain(`context.${field}`);
          expect(result.err).not.toContain('Invalid time value');
        }
      });
    }
  }

  it('still notes a deadline in range that had passed, and reads a context without deadlines', async () => {
    server.answers.set(ROUTE, answer({ notBefore: 0, notAfter: Date.parse('2026-01-15T00:00:00Z') }));
    const passed = await state();
    expect(passed.code).toBe(0);
    expect(passed.out).toContain('credential-meter-1 at 2026-02-01T00:00:00.000Z: active');
    expect(passed.err).toContain('notAfter 2026-01-15T00:00:00.000Z had passed');
    server.answers.set(ROUTE, answer({ associationId: 'a-1' }));
    const none = await state();
    expect([none.code, none.err]).toEqual([0, '']);
  });
});
