/**
 * A mechanism this deployment's token does not offer, or a key template it will not make, was a `validation` issue
 * (`mechanism`/`mechanism_unsupported`, `token`/`template_refused`): answered 400 to whoever sent the request, a device
 * among them, as if its input were wrong. It is the deployment's configuration, and a retry fails alike until its
 * operator acts: `500 secure_environment_unsupported`, naming the reason and the mechanism, never the token's label,
 * with no Retry-After.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { mapRaisedError } from '../adapters/http/map-raised-error.ts';
import { problemDocumentOf } from '../adapters/http/problems.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { pkcs11js } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { acquireSharedModule, releaseModule } from '../adapters/driven/secure-environment/pkcs11/shared-module.ts';
import { callError } from '../adapters/driven/secure-environment/pkcs11/token-errors.ts';
import { softHsm, softHsmMissing, SOFTHSM_MODULE } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'maf:infrastructure';
const LABEL = 'se-unsupported';

const raised = async (run: () => Promise<unknown>): Promise<unknown> => run().then(() => expect.fail('expected a refusal'), (error: unknown) => error);

describe.skipIf(softHsmMissing !== undefined)('what the PKCS#11 token cannot do, as the API answers it', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token(LABEL);

  it('a mechanism the token does not offer (x25519, HKDF without x-derivation=host) is 500 naming it, not a 400 on the caller', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    try {
      const psk = await se.generate(OWNER, 'psk256');
      const cases: [() => Promise<unknown>, string][] = [
        [() => se.generate(OWNER, 'x25519'), 'CKM_EC_MONTGOMERY_KEY_PAIR_GEN'],
        [() => se.deriveKey(OWNER, { inputs: [psk], salt: text('s'), info: text('i'), kind: 'session256' }), 'CKM_HKDF_DERIVE'],
      ];
      for (const [run, mechanism] of cases) {
        const error = await raised(run);
        expect(isCredenceError(error, 'secure_environment_unsupported')).toBe(true);
        const mapped = mapRaisedError(error);
        expect(mapped).toMatchObject({ status: 500, code: 'secure_environment_unsupported', extensions: { reason: 'mechanism_unsupported', mechanism } });
        expect(mapped.headers).toBeUndefined();
        expect(mapped.detail).toContain(mechanism);
        const document = JSON.stringify(problemDocumentOf(error));
        expect(document).not.toContain('"errors"');
        expect(document).not.toContain(LABEL);
      }
    } finally {
      se.close();
    }
  });

  it("a key template the token refuses is 500 template_refused naming the return value, and the label's length stays in the message for the log", async () => {
    const { module, key: moduleKey } = acquireSharedModule(SOFTHSM_MODULE);
    const generates = vi.spyOn(module, 'C_GenerateKeyPair').mockImplementationOnce(() => {
      throw new pkcs11js.Pkcs11Error('CKR_ATTRIBUTE_VALUE_INVALID:19', 0x13, 'C_GenerateKeyPair');
    });
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    try {
      const error = await raised(() => se.generate(OWNER, 'ed25519'));
      expect(mapRaisedError(error)).toMatchObject({
        status: 500,
        code: 'secure_environment_unsupported',
        extensions: { reason: 'template_refused', returnValue: 'CKR_ATTRIBUTE_VALUE_INVALID' },
      });
      expect((error as Error).message).toContain('CKA_LABEL is');
      expect(JSON.stringify(problemDocumentOf(error))).not.toContain(LABEL);
    } finally {
      se.close();
      generates.mockRestore();
      releaseModule(moduleKey);
    }
  });

  it('a mechanism the token lists and then refuses (CKR_MECHANISM_INVALID) is 500 naming the return value', () => {
    const error = callError(new pkcs11js.Pkcs11Error('CKR_MECHANISM_INVALID', 0x70, 'C_SignInit'), undefined, () => true, () => expect.fail('not lost'));
    expect(mapRaisedError(error)).toMatchObject({
      status: 500,
      code: 'secure_environment_unsupported',
      extensions: { reason: 'mechanism_unsupported', returnValue: 'CKR_MECHANISM_INVALID' },
    });
  });
});
