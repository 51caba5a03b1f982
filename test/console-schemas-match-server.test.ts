/**
 * The console's answer schemas (adapters/console/src/schemas.ts) mirror the server's response schemas, which the
 * console cannot import. This keeps the two from drifting apart: every endpoint a console page reads is asked of the
 * real service, over a seeded fleet (revocations, a cascade, expiring credentials), and its answer must parse; a
 * page would otherwise show "not what this console expects" for a good answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import * as schemas from '../adapters/console/src/schemas.ts';
import { CONSOLE_FLEET, seedConsoleFleet, startConsoleService } from './support/console-fleet.ts';
import type { TestService } from './support/service.ts';

describe('the console parses the real service answers it reads', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startConsoleService();
    await seedConsoleFleet(svc);
  }, 180_000);
  afterAll(async () => {
    await svc?.close();
  });

  const answer = async (path: string): Promise<unknown> => {
    const response = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}`, accept: 'application/json' } });
    expect(response.status, path).toBe(200);
    return response.json();
  };
  const parses = async <S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> => {
    const parsed = schema.safeParse(await answer(path));
    if (!parsed.success) throw new Error(`${path}: ${schemas.describeIssues(parsed.error, 10)}`);
    return parsed.data;
  };

  it('entities, timelines, states, counts and dependents', async () => {
    const counts = await parses('/v1/entities/counts', schemas.EntityCounts);
    expect(counts.kinds['node']?.entities).toBe(CONSOLE_FLEET.nodes.length);
    const page = await parses('/v1/entities?kind=credential&limit=50', schemas.EntityPage);
    expect(page.items.length).toBeGreaterThan(0);
    for (const [kind, id] of [['node', 'meter-3'], ['node', 'meter-1'], ['application', CONSOLE_FLEET.application], ['credential', 'meter-3-service']] as const) {
      const base = `/v1/entities/${kind}/${encodeURIComponent(id)}`;
      const entity = await parses(base, schemas.Entity);
      const timeline = await parses(`${base}/timeline`, schemas.Timeline);
      expect(timeline.entries.length).toBeGreaterThan(0);
      // The page reads it in pages (timeline-pages.ts): one entry, and the `after` of the next.
      const first = await parses(`${base}/timeline?limit=1`, schemas.Timeline);
      expect(first.entries.map((e) => e.revision)).toEqual(['0']);
      expect(first.nextAfter).toBe('0');
      await parses(`${base}/state?at=${encodeURIComponent(timeline.entries[0]!.occurredAt)}`, schemas.StateAt);
      await parses(`${base}/state?at=2000-01-01T00:00:00Z`, schemas.StateAt);
      const dependents = await parses(`${base}/dependents?limit=1000`, schemas.Dependents);
      expect(dependents.root.id).toBe(entity.id);
    }
    // meter-3 was revoked: its dependents carry their endings and the cascade that caused them.
    const revoked = await parses('/v1/entities/node/meter-3/dependents?limit=1000', schemas.Dependents);
    expect(revoked.dependents.some((d) => d.ending?.causedBy !== undefined)).toBe(true);
  });

  it('the compliance catalog, its queries, the replay verdict and an evidence bundle', async () => {
    const catalog = await parses('/v1/compliance', schemas.Catalog);
    expect(catalog.queries.map((q) => q.name)).toContain('expiring');
    expect((await parses('/v1/compliance/expiring?days=30', schemas.ExpiringRows)).rows.length).toBeGreaterThan(0);
    expect((await parses('/v1/compliance/revocations?from=2000-01-01', schemas.RevocationRows)).rows.length).toBeGreaterThan(0);
    await parses('/v1/compliance/revocations?from=2000-01-01', schemas.ComplianceResult);
    expect((await parses('/v1/replay?limit=0', schemas.FleetVerdict)).ok).toBe(true);
    await parses('/v1/transparency/evidence/node/meter-1', schemas.EvidenceAnswer);
  });

  it('problem bodies', async () => {
    const response = await fetch(`${svc.url}/v1/compliance/expiring?days=soon`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(response.status).toBe(400);
    const problem = schemas.Problem.parse(await response.json());
    expect(problem.errors?.[0]?.path).toBe('query.days');
  });
});
