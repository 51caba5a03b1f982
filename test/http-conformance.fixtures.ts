import { Ajv2020 } from 'ajv/dist/2020.js';
import { expect } from 'vitest';
import { issueCredentialData, profile } from './support/fleet.ts';
import type { TestService } from './support/service.ts';
import { settled as settledOf } from './http-sse.fixtures.ts';

/**
 * Calls the API over real HTTP and checks every response against the service's own OpenAPI document: the schema
 * of the operation's status (or its `4xx`/`5xx` range) and content type. A response the document does not
 * describe fails the test.
 */

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> };

const pointer = (...segments: string[]): string =>
  segments.map((s) => encodeURIComponent(s.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/');

export interface Reply<T = unknown> {
  readonly status: number;
  readonly type: string;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

export interface CallOptions {
  readonly token?: string;
  readonly body?: unknown;
  readonly accept?: string;
  /** Query string, appended to the path. */
  readonly query?: Readonly<Record<string, string>>;
}

export interface Api {
  readonly doc: Doc;
  /** `template` is the OpenAPI path (`/v1/entities/{kind}/{id}`); `params` fill it in. */
  call<T = any>(method: 'GET' | 'POST', template: string, params?: Readonly<Record<string, string>>, options?: CallOptions): Promise<Reply<T>>;
}

export const openApi = async (svc: TestService): Promise<Api> => {
  const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as Doc;
  // The OpenAPI document holds JSON Schema 2020-12 (OpenAPI 3.1); its own keywords are not schema keywords.
  const ajv = new Ajv2020({ strict: false, validateSchema: false, validateFormats: false, allErrors: true });
  ajv.addSchema(doc as object, 'openapi.json');

  const conforms = (method: string, template: string, status: number, type: string, body: unknown): void => {
    const operation = doc.paths[template]?.[method.toLowerCase()];
    expect(operation, `${method} ${template} is in the OpenAPI document`).toBeDefined();
    const key = [String(status), `${String(status)[0]}XX`, `${String(status)[0]}xx`, 'default'].find((k) => operation!.responses[k] !== undefined);
    expect(key, `${method} ${template} documents status ${status}`).toBeDefined();
    const content = operation!.responses[key!]!.content ?? {};
    const media = Object.keys(content).find((m) => type.split(';')[0]!.trim() === m);
    expect(media, `${method} ${template} ${status} documents ${type} (has ${Object.keys(content).join(', ')})`).toBeDefined();
    const ref = `openapi.json#/${pointer('paths', template, method.toLowerCase(), 'responses', key!, 'content', media!, 'schema')}`;
    const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
    const ok = validate(body);
    expect(ok, `${method} ${template} ${status} matches its schema: ${JSON.stringify(validate.errors)}`).toBe(true);
  };

  return {
    doc,
    async call(method, template, params = {}, options = {}) {
      const path = template.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(params[name]!));
      const query = options.query === undefined ? '' : `?${new URLSearchParams(options.query as Record<string, string>).toString()}`;
      const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
      if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${svc.url}${path}${query}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
      const type = response.headers.get('content-type') ?? '';
      const text = await response.text();
      const body: unknown = /json/.test(type) ? JSON.parse(text) : text;
      conforms(method, template, response.status, type, body);
      return { status: response.status, type, headers: response.headers, body: body as never, text };
    },
  };
};

const DAY = 86_400_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

/** Command bodies (type and data) valid on the wall clock: the service decides at the system clock's now. */
export const body = {
  createSubscription: (subscriptionId = 'sub-1') => ({
    type: 'createSubscription',
    data: { subscriptionId, subscriber: 'City Utilities', notBefore: iso(-DAY), notAfter: iso(365 * DAY) },
  }),
  registerNode: (nodeId: string) => ({ type: 'registerNode', data: { nodeId, profile } }),
  enrolNode: (nodeId: string, subscriptionId = 'sub-1') => ({ type: 'enrolNode', data: { nodeId, subscriptionId, cseId: `/cse-${nodeId}` } }),
  issueCredential: (credentialId: string, nodeId: string) => ({
    type: 'issueCredential',
    data: issueCredentialData(credentialId, nodeId, { notBefore: iso(-DAY), notAfter: iso(90 * DAY) }),
  }),
  provisionCredential: (credentialId: string) => ({ type: 'provisionCredential', data: { credentialId, method: 'pre-provisioning' } }),
  configureAssociation: (associationId: string, credentialId: string, nodeId: string) => ({
    type: 'configureAssociation',
    data: { associationId, nodeId, credentialId, registree: { kind: 'cse', id: `/cse-${nodeId}` }, registrarCseId: '/in-cse' },
  }),
  establishAssociation: (associationId: string) => ({ type: 'establishAssociation', data: { associationId, expiresAt: iso(30 * DAY) } }),
  revokeCredential: (credentialId: string, reason = 'keyCompromise') => ({ type: 'revokeCredential', data: { credentialId, reason } }),
  revokeNode: (nodeId: string, reason = 'keyCompromise') => ({ type: 'revokeNode', data: { nodeId, reason } }),
};

/** Waits until every live component has handled the head, and the cascade has nothing more to append. */
export { settled } from './http-sse.fixtures.ts';

/**
 * Registers `nodeId` through POST /v1/commands as the operator (`extra`: more body fields, a commandId), waits for the
 * live components, and answers the pseudonym its first rotation gave it.
 */
export const registeredPseudonym = async (svc: TestService, nodeId: string, extra: Record<string, unknown> = {}): Promise<string> => {
  const registered = await fetch(new URL('/v1/commands', svc.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body.registerNode(nodeId), ...extra }),
  });
  expect(registered.status).toBe(201);
  await settledOf(svc);
  let pseudonym = '';
  for await (const e of svc.service.context.credence.store.readAll()) {
    if (e.type === 'PseudonymRotated' && e.data['nodeId'] === nodeId) pseudonym = String(e.data['pseudonym']);
  }
  expect(pseudonym).toMatch(/^p-/);
  return pseudonym;
};
