/**
 * Review 342, finding 2: an `Idempotency-Key` request header (the IETF httpapi draft's) was ignored: a client that
 * followed the draft and sent it on each retry got a new command id each time, so a retried command was recorded
 * twice. The service's idempotency key is the body's `commandId`. A command route sent the header refuses it `400
 * validation`, naming the header and `body.commandId`, before the body is read, and writes nothing (as a condition
 * is refused `412`: test/http-a-conditional-write-is-refused-412-and-writes-nothing.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { body, registeredPseudonym } from './http-conformance.fixtures.ts';
import { useTestService } from './support/service.ts';

const svc = useTestService();

const storedEvents = async (): Promise<number> => {
  let count = 0;
  for await (const _ of svc.service.context.credence.store.readAll()) count += 1;
  return count;
};

const post = (path: string, token: string, payload: unknown, headers: Record<string, string> = {}) =>
  fetch(`${svc.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
  });

interface Refusal {
  type: string;
  status: number;
  detail: string;
  errors: { path: string; rule: string; message: string }[];
}

const expectRefused = async (response: Response): Promise<void> => {
  expect(response.status).toBe(400);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = (await response.json()) as Refusal;
  expect(problem).toMatchObject({ type: 'https://credence.dev/problems/validation', status: 400 });
  expect(problem.errors).toEqual([{ path: 'headers.idempotency-key', rule: 'use_command_id', message: expect.stringMatching(/body\.commandId/) }]);
  expect(problem.detail).toMatch(/Idempotency-Key/);
};

describe('an Idempotency-Key header sent to a command route', () => {
  it('POST /v1/commands: refused 400 naming the header and body.commandId, nothing written', async () => {
    const before = await storedEvents();
    await expectRefused(await post('/v1/commands', svc.tokens.operator, body.registerNode('meter-342-key'), { 'idempotency-key': '8e03978e-40d5-43e8-bc93-6894a57f9324' }));
    expect(await storedEvents()).toBe(before);
    // Sent again without it, the same command is recorded: the header alone was refused.
    expect((await post('/v1/commands', svc.tokens.operator, body.registerNode('meter-342-key'))).status).toBe(201);
  });

  it('POST /v1/pseudonyms/rotations and /resolutions: refused alike, nothing written', async () => {
    const pseudonym = await registeredPseudonym(svc, 'meter-342-rotated');
    const before = await storedEvents();
    await expectRefused(await post('/v1/pseudonyms/rotations', svc.tokens.operator, { nodeId: 'meter-342-rotated' }, { 'Idempotency-Key': 'k-1' }));
    await expectRefused(await post('/v1/pseudonyms/resolutions', svc.tokens.auditor, { pseudonym, reason: 'lawful-request' }, { 'idempotency-key': 'k-2' }));
    expect(await storedEvents()).toBe(before);
  });
});
