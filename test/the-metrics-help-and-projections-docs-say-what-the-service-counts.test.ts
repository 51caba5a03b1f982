import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 330 items 5 and 6: docs/service.md's list of the components GET /v1/projections reports left out `pki`; the
 * HELP of credence_cascade_dead_letters gave one cause of the three the docs list, and that of
 * credence_http_refused_total left out the OCSP responder's tryLater answers it counts.
 */
describe('what an operator reads of the metrics and the projections', () => {
  const svc = useTestService();

  it('the docs list every component GET /v1/projections reports', async () => {
    const res = await fetch(`${svc.url}/v1/projections`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
    const body = (await res.json()) as { components: readonly { readonly name: string }[] };
    const docs = readFileSync(new URL('../docs/service.md', import.meta.url), 'utf8');
    const section = docs.slice(docs.indexOf('### Projections: `GET /v1/projections`'));
    const listed = /^Every component that follows the store \(([^)]*)\)/m.exec(section)?.[1] ?? '';
    const names = [...listed.matchAll(/`([^`]+)`/g)].map((m) => m[1]).sort();
    expect(names).toEqual(body.components.map((c) => c.name).sort());
  });

  it('the HELP texts name every dead letter cause and the OCSP tryLater answers', async () => {
    const metrics = await svc.service.context.metrics.render();
    const help = (name: string) => new RegExp(`^# HELP ${name} (.*)$`, 'm').exec(metrics)?.[1] ?? '';
    expect(help('credence_cascade_dead_letters')).toMatch(/broken history/);
    expect(help('credence_cascade_dead_letters')).toMatch(/derived command id/);
    expect(help('credence_cascade_dead_letters')).toMatch(/refused its revocation/);
    expect(help('credence_http_refused_total')).toMatch(/tryLater/);
  });
});
