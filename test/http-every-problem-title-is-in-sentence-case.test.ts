/**
 * Review 342, finding 3: the 412's title was Node's status text, "Precondition Failed", where every other problem's
 * title is in sentence case ("Invalid request", "Not found"): a client showing titles showed this one apart.
 */
import { describe, expect, it } from 'vitest';
import { body } from './http-conformance.fixtures.ts';
import { useTestService } from './support/service.ts';

const svc = useTestService();

describe('a write refused 412 for a condition it was sent with', () => {
  it('is titled "Precondition failed"', async () => {
    const refused = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json', 'if-match': '*' },
      body: JSON.stringify(body.registerNode('meter-342-title')),
    });
    expect(refused.status).toBe(412);
    expect(((await refused.json()) as { title: string }).title).toBe('Precondition failed');
  });
});
