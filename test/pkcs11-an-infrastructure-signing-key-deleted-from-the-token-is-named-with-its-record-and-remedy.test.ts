/**
 * Review 162 F3: the Registrar CSE's signing key deleted from the token behind Credence's back. Before, while
 * serving, what needed it (a device's pinned responder, `device fleet` init; a handshake's signature) answered a bare
 * 500 Internal Server Error (and so did POST /v1/tokens with the API token signing key deleted), and a restart was refused with `not_found`: "key key_… does not exist", naming neither
 * the key's purpose, nor its record (keys.db, infrastructure / registrar-signing), nor a remedy. Now both say which
 * key it is, where it is recorded and what to do, and the HTTP answer is a typed 503 naming it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { createAccessControl } from '../adapters/http/auth/access-control.ts';
import { ACCESS_OWNER } from '../adapters/http/auth/open-access-control.ts';
import { mapRaisedError } from '../adapters/http/map-raised-error.ts';
import { openAccessRegistry, openCredence, openHsmLogKey, systemRandom } from '../adapters/runtime/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ownerView } from '../domain/ports/index.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { operator, rejection, T0 } from './support/fleet.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));

describe.skipIf(softHsmMissing !== undefined)('PKCS#11: an infrastructure signing key deleted from the token', () => {
  const hsm = softHsm();
  const dir = mkdtempSync(join(tmpdir(), 'credence-infra-key-gone-'));
  afterAll(() => {
    hsm.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const token = hsm.token('infrakeys');

  const service = async (clock: FakeClock) => {
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
    const logKey = await openHsmLogKey(dir, se);
    const credence = openCredence({ location: { dir }, clock, security: { se, random, actor: operator }, ...(logKey.place === 'hsm' ? { transparencySigner: logKey.signer } : {}) });
    return { credence, close: async () => { await credence.close(); se.close(); } };
  };
  /** Someone holding the PIN deletes both halves of the key pair (pkcs11-tool, another process). */
  const deleteKey = (handle: KeyHandle) => {
    hsm.deleteObjects(token, handle, ['privkey', 'pubkey']);
  };
  const expectNamed = (error: unknown, handle: KeyHandle) => {
    expect(isCredenceError(error, 'secure_environment_unavailable')).toBe(true);
    const problem = (error as { problem: { reason: string; message: string } }).problem;
    expect(problem.reason).toBe('registrar_signing_key_missing');
    expect(problem.message).toContain(`Registrar CSE's signing key ${handle}`);
    expect(problem.message).toContain('keys.db (stream infrastructure, purpose registrar-signing)');
    expect(problem.message).toMatch(/restore the token from a backup/);
  };

  it("while serving, the device's pinned responder and a signature are a typed 503 naming the Registrar's key; a restart is refused naming its record and the remedy", async () => {
    const clock = new FakeClock(T0);
    let running = await service(clock);
    let registrarKey: KeyHandle;
    try {
      const { infrastructure } = await running.credence.security();
      registrarKey = infrastructure.signing.registrar;
      await infrastructure.pinned('registrar');
      deleteKey(registrarKey);

      const pinned = await rejection(infrastructure.pinned('registrar'));
      expectNamed(pinned, registrarKey);
      expect(mapRaisedError(pinned)).toMatchObject({ status: 503, code: 'secure_environment_unavailable', extensions: { reason: 'registrar_signing_key_missing' } });
      // What the Registrar signs its handshake answers with.
      expectNamed(await rejection(infrastructure.signing.se.sign(registrarKey, new Uint8Array(8))), registrarKey);
      // The Enrolment Function's key is still there and still serves.
      expect((await infrastructure.pinned('enrolment-function')).publicKey.kind).toBe('ed25519');
    } finally {
      await running.close();
    }

    running = await service(clock);
    try {
      expectNamed(await rejection(running.credence.security()), registrarKey);
    } finally {
      await running.close();
    }
  });

  it('while serving, issuing an API token with its signing key deleted is a typed 503 naming the key and access.db, not a bare 500', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    const registry = openAccessRegistry({ memory: true });
    try {
      const access = await createAccessControl({
        se: ownerView(se, ACCESS_OWNER),
        registry,
        clock: new FakeClock(T0),
        random: systemRandom,
        issuer: 'credence',
        audience: 'credence-api',
        maxTtlSeconds: 86_400,
        maxActivePerSubject: 10,
        keysInToken: true,
      });
      const request = { subject: 'alice', role: 'admin', ttlSeconds: 3_600, issuedBy: 'test' } as const;
      await access.issue(request);
      const handle = registry.currentSigningKey()! as KeyHandle;
      deleteKey(handle);

      const error = await rejection(access.issue(request));
      expect(isCredenceError(error, 'secure_environment_unavailable')).toBe(true);
      const problem = (error as { problem: { reason: string; message: string } }).problem;
      expect(problem.reason).toBe('api_token_signing_key_missing');
      expect(problem.message).toContain(`API token signing key ${handle}`);
      expect(problem.message).toContain('access.db');
      expect(problem.message).toMatch(/rotate-key --withdraw-missing/);
      expect(mapRaisedError(error)).toMatchObject({ status: 503, code: 'secure_environment_unavailable', extensions: { reason: 'api_token_signing_key_missing' } });
    } finally {
      registry.close();
      se.close();
    }
  });
});
