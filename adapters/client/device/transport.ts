import { MAX_CERTIFICATE_LENGTH } from '../../../domain/crypto/sizes.ts';
import { request } from '../http.ts';

/**
 * How a device reaches the infrastructure's device-facing routes: one call per protocol message, no bearer token
 * (a device authenticates inside the protocols). A refusal is the server's problem+json (`ProblemResponse`).
 */
export interface DeviceTransport {
  get(path: string): Promise<unknown>;
  post(path: string, body: unknown): Promise<unknown>;
}

/**
 * The largest answer a device reads from these routes. The largest message the server sends is
 * `provisioning.recorded` with one certificate of at most MAX_CERTIFICATE_LENGTH bytes (4/3 of that in base64url)
 * and under a kilobyte of other fields; a refusal's problem document is smaller. Anything larger is no message of
 * these protocols, so it is refused as it is read, before it is parsed (SER-001: the client's 64 MiB default let
 * a server make a device hold and parse that much before the message limits applied).
 */
export const MAX_DEVICE_ANSWER_BYTES = 4 * MAX_CERTIFICATE_LENGTH;

export interface DeviceTransportOptions {
  readonly signal?: AbortSignal | undefined;
  /** How long each message's answer may take (default: adapters/client/http.ts DEFAULT_TIMEOUT_MS); then `ServerTimeout`. */
  readonly timeoutMs?: number | undefined;
}

export const httpDeviceTransport = (baseUrl: string, options: DeviceTransportOptions = {}): DeviceTransport => {
  const common = {
    maxResponseBytes: MAX_DEVICE_ANSWER_BYTES,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  };
  return {
    get: async (path) => (await request(baseUrl, { method: 'GET', path, ...common })).body,
    post: async (path, body) => (await request(baseUrl, { method: 'POST', path, body, ...common })).body,
  };
};

/** The device-facing paths (adapters/http/routes/enrolment.ts and registrar.ts). */
export const DEVICE_PATHS = {
  enrolment: '/v1/enrolment',
  enrolmentStep: (step: 'hello' | 'auth' | 'receipt') => `/v1/enrolment/${step}`,
  registrar: '/v1/registrar',
  registrarStep: (associationId: string, step: 'hello' | 'finish') => `/v1/registrar/associations/${encodeURIComponent(associationId)}/${step}`,
} as const;
