import { expect } from 'vitest';
import { body, type Api } from '../http-conformance.fixtures.ts';
import type { TestService } from './service.ts';

/**
 * `payload` POSTed to /v1/commands as `svc`'s operator through `api` (its answer checked against the OpenAPI
 * document), the answer required to be 201, its body in the failure message: the answer's body.
 */
export const commandAsOperator = async <T = unknown>(api: Api, svc: TestService, payload: unknown): Promise<T> => {
  const reply = await api.call<T>('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload });
  expect(reply.status, JSON.stringify(reply.body)).toBe(201);
  return reply.body;
};

/** Subscription sub-1 created through `run`, and meter-1 registered and enrolled under it: where a dependents test starts. */
export const meter1Enrolled = async (run: (payload: unknown) => Promise<unknown>): Promise<void> => {
  await run(body.createSubscription());
  await run(body.registerNode('meter-1'));
  await run(body.enrolNode('meter-1'));
};
