import { request } from '../http.ts';

/**
 * How a device reaches the infrastructure's device-facing routes: one call per protocol message, no bearer token
 * (a device authenticates inside the protocols). A refusal is the server's problem+json (`ProblemResponse`).
 */
export interface DeviceTransport {
  get(path: string): Promise<unknown>;
  post(path: string, body: unknown): Promise<unknown>;
}

export const httpDeviceTransport = (baseUrl: string, options: { readonly signal?: AbortSignal } = {}): DeviceTransport => {
  const signal = options.signal !== undefined ? { signal: options.signal } : {};
  return {
    get: async (path) => (await request(baseUrl, { method: 'GET', path, ...signal })).body,
    post: async (path, body) => (await request(baseUrl, { method: 'POST', path, body, ...signal })).body,
  };
};

/** The device-facing paths (adapters/http/routes/enrolment.ts and registrar.ts). */
export const DEVICE_PATHS = {
  enrolment: '/v1/enrolment',
  enrolmentStep: (step: 'hello' | 'auth' | 'receipt') => `/v1/enrolment/${step}`,
  registrar: '/v1/registrar',
  registrarStep: (associationId: string, step: 'hello' | 'finish') => `/v1/registrar/associations/${encodeURIComponent(associationId)}/${step}`,
} as const;
