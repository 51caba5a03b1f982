import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredPseudonym } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 112: POST /v1/pseudonyms/resolutions refused a reused `commandId`, and an id of the kind only the engine's
 * reactions carry, naming `metadata.commandId`, a field the client never sent; the rotation route and POST
 * /v1/commands name `body.commandId`. Now the resolutions do too, and still record nothing.
 */
const NODE = 'resolution-path-meter';
let svc: TestService;
let pseudonym = '';
const registerId = randomUUID();

beforeAll(async () => {
  svc = await startTestService();
  pseudonym = await registeredPseudonym(svc, NODE, { commandId: registerId });
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const resolve = async (commandId: string) => {
  const reply = await fetch(new URL('/v1/pseudonyms/resolutions', svc.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.auditor}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pseudonym, reason: 'case 2026-31', commandId }),
  });
  return { status: reply.status, problem: (await reply.json()) as { code?: string; errors?: { path: string; rule: string }[] } };
};

const resolutions = async (): Promise<number> =>
  (await svc.service.context.credence.store.readStream(`pseudonym-${pseudonym}`)).filter((e) => e.type === 'PseudonymResolved').length;

describe('a resolution refused for its commandId', () => {
  it('names body.commandId, for an id another command used and for a reserved one, and records nothing', async () => {
    const reused = await resolve(registerId);
    expect(reused.status).toBe(400);
    expect(reused.problem.errors).toEqual([expect.objectContaining({ path: 'body.commandId', rule: 'idempotency' })]);

    const reserved = await resolve('0190a1b2-c3d4-8e5f-8a6b-7c8d9e0f1a2b');
    expect(reserved.status).toBe(400);
    expect(reserved.problem.errors).toEqual([expect.objectContaining({ path: 'body.commandId', rule: 'reserved_command_id' })]);
    expect(JSON.stringify([reused.problem, reserved.problem])).not.toContain('metadata.');

    expect(await resolutions()).toBe(0);
  });
});
