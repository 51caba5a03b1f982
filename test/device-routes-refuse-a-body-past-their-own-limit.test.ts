import { describe, expect, it } from 'vitest';
import { DEVICE_BODY_LIMIT_DEFAULT_BYTES } from '../adapters/http/service-limits-config.ts';
import { MAX_CERTIFICATE_CHAIN, MAX_CERTIFICATE_LENGTH, MAX_CSR_LENGTH, MAX_PROOF_LENGTH, MAX_PUBLIC_KEY_LENGTH } from '../domain/crypto/sizes.ts';
import { ProvisioningAuth, ProvisioningHello } from '../domain/protocols/index.ts';
import { NONCE_LENGTH } from '../domain/protocols/protocol.ts';
import { useTestService } from './support/service.ts';

/*
 * SER-001: the device routes answer anyone without a token, and every body is read whole before it is judged. Found
 * in review: they took the API's 1 MiB, where a device's messages are a few KB. They have a limit of their own now
 * (limits.deviceBodyLimitBytes), and a body past it is 413 naming it.
 */
const b64 = (bytes: number) => Buffer.alloc(bytes, 0xa5).toString('base64url');
const id = (c: string) => c.repeat(256);

/** Every field at the longest its schema takes: a hello with a full IDevID chain, an auth with a CSR. */
const largestHello = {
  type: 'provisioning.hello',
  version: 1,
  nodeId: id('n'),
  enrolmentFunctionId: id('e'),
  credentialId: id('c'),
  predecessorId: id('p'),
  bootstrap: { kind: 'p256', fingerprint: `sha256:${'0'.repeat(64)}` },
  certificateChain: Array.from({ length: MAX_CERTIFICATE_CHAIN }, () => b64(MAX_CERTIFICATE_LENGTH)),
  credentialKind: 'psk256',
  ephemeral: { group: 'p256', publicKey: b64(MAX_PUBLIC_KEY_LENGTH) },
  nodeNonce: b64(NONCE_LENGTH),
  sentAt: '2026-12-04T05:00:00.000Z',
};
const largestAuth = {
  type: 'provisioning.auth',
  version: 1,
  sessionId: b64(16),
  enrolmentNonce: b64(NONCE_LENGTH),
  credentialPublicKey: b64(MAX_PUBLIC_KEY_LENGTH),
  proofOfPossession: b64(MAX_PROOF_LENGTH),
  csr: b64(MAX_CSR_LENGTH),
  proof: b64(MAX_PROOF_LENGTH),
};

/** A JSON body of exactly `bytes` bytes. */
const bodyOf = (bytes: number) => `{"pad":"${'x'.repeat(bytes - 10)}"}`;

describe('the device routes\' body limit', () => {
  it('holds the largest message a device may send, with room to spare', () => {
    expect(ProvisioningHello.safeParse(largestHello).success).toBe(true);
    expect(ProvisioningAuth.safeParse(largestAuth).success).toBe(true);
    const hello = Buffer.byteLength(JSON.stringify(largestHello));
    const auth = Buffer.byteLength(JSON.stringify(largestAuth));
    expect({ hello, auth }).toEqual({ hello: 88_923, auth: 5_929 });
    expect(hello * 1.4).toBeLessThan(DEVICE_BODY_LIMIT_DEFAULT_BYTES);
  });

  describe('by default', () => {
    const svc = useTestService();
    const post = (path: string, body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
      fetch(`${svc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, duplex: 'half' } as RequestInit);

    it.each(['/v1/enrolment/hello', '/v1/enrolment/auth', '/v1/enrolment/receipt', '/v1/registrar/associations/a-1/hello', '/v1/registrar/associations/a-1/finish'])(
      'refuses a body one byte past it at %s: 413 naming the limit',
      async (path) => {
        const response = await post(path, bodyOf(DEVICE_BODY_LIMIT_DEFAULT_BYTES + 1));
        expect(response.status).toBe(413);
        // Closed with the answer: kept open, the server would read and discard every byte the length declared.
        expect(response.headers.get('connection')).toBe('close');
        expect(await response.json()).toMatchObject({
          type: 'https://credence.dev/problems/payload_too_large',
          detail: `the request body is larger than the ${DEVICE_BODY_LIMIT_DEFAULT_BYTES} bytes this route accepts`,
        });
      },
    );

    it('refuses a body past it sent without a length: 413', async () => {
      const chunks = [bodyOf(DEVICE_BODY_LIMIT_DEFAULT_BYTES + 1)];
      const stream = new ReadableStream({ pull: (controller) => (chunks.length > 0 ? controller.enqueue(new TextEncoder().encode(chunks.pop())) : controller.close()) });
      const response = await post('/v1/enrolment/hello', stream);
      expect(response.status).toBe(413);
      expect(await response.json()).toMatchObject({ detail: `the request body is larger than the ${DEVICE_BODY_LIMIT_DEFAULT_BYTES} bytes this route accepts` });
    });

    it('reads the largest hello, and a body up to the limit, as before', async () => {
      expect((await post('/v1/enrolment/hello', JSON.stringify(largestHello))).status).not.toBe(413);
      expect((await post('/v1/enrolment/hello', bodyOf(DEVICE_BODY_LIMIT_DEFAULT_BYTES))).status).toBe(400);
    });

    it('leaves the API its own limit', async () => {
      const response = await post('/v1/commands', bodyOf(DEVICE_BODY_LIMIT_DEFAULT_BYTES + 1), { authorization: `Bearer ${svc.tokens.operator}` });
      expect(response.status).toBe(400);
    });
  });

  describe('configured', () => {
    const svc = useTestService({ config: { limits: { deviceBodyLimitBytes: 2_048 } } });

    it('is the limit a device route refuses past, and names', async () => {
      const post = (bytes: number) =>
        fetch(`${svc.url}/v1/registrar/associations/a-1/finish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodyOf(bytes) });
      expect((await post(2_048)).status).not.toBe(413);
      const response = await post(2_049);
      expect(response.status).toBe(413);
      expect(((await response.json()) as { detail: string }).detail).toContain('2048 bytes');
    });
  });
});
