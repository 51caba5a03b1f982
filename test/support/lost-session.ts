import { vi } from 'vitest';
import { pkcs11js, type Pkcs11 } from '../../adapters/driven/secure-environment/pkcs11/module.ts';
import { presentSlotOf, type SoftHsm, type TestToken } from './softhsm.ts';

/** A PKCS#11 call that makes an object in the token, which a lost session may interrupt just after it did. */
export type MakingCall = 'C_GenerateKeyPair' | 'C_GenerateKey' | 'C_UnwrapKey';

/**
 * The next `call` runs for real (when `made`: the token made its object) or not, then every session of the token is
 * closed and the call answers CKR_SESSION_HANDLE_INVALID, as an HSM dropping its connection at that moment would.
 */
export const loseSessionAfter = (module: Pkcs11, token: TestToken, call: MakingCall, made: boolean) => {
  const real = module[call].bind(module) as (...args: unknown[]) => unknown;
  return vi.spyOn(module, call).mockImplementationOnce(((...args: unknown[]) => {
    if (made) real(...args);
    module.C_CloseAllSessions(presentSlotOf(module, token.label));
    throw new pkcs11js.Pkcs11Error('CKR_SESSION_HANDLE_INVALID:179', 0xb3, call);
  }) as never);
};

/** The CKA_IDs (hex) of the token's objects labelled for `owner`, one per object, sorted, as pkcs11-tool lists them. */
export const objectIdsOf = (hsm: SoftHsm, token: TestToken, owner: string): (string | undefined)[] =>
  hsm
    .listObjects(token)
    .split(/\n(?=\S)/)
    .filter((block) => block.includes(`"owner":"${owner}"`))
    .map((block) => /^\s*ID:\s*([0-9a-f]+)/m.exec(block)?.[1])
    .sort();

/**
 * The calls pkcs11js 2.1 throws from as a plain Error (`CKR_NAME:value`), never a Pkcs11Error: its `modify` replaces
 * them with wrappers that call the native method without its catchError (review 407).
 */
export type PlainErrorCall = 'C_FindObjects' | 'C_SetAttributeValue';

/**
 * Every session of the token is closed just before the next `call`, which then runs for real on its closed session:
 * it throws what pkcs11js throws for it, a plain Error "CKR_SESSION_HANDLE_INVALID:179" (checked, so the shape tested
 * is the library's own).
 */
export const loseSessionAtPlain = (module: Pkcs11, token: TestToken, call: PlainErrorCall) => {
  const real = module[call].bind(module) as (...args: unknown[]) => unknown;
  return vi.spyOn(module, call).mockImplementationOnce(((...args: unknown[]) => {
    module.C_CloseAllSessions(presentSlotOf(module, token.label));
    try {
      real(...args);
    } catch (error) {
      if (error instanceof pkcs11js.Pkcs11Error || (error as Error).message !== 'CKR_SESSION_HANDLE_INVALID:179') {
        throw new Error(`pkcs11js no longer throws ${call}'s errors as a plain Error: ${String(error)}`);
      }
      throw error;
    }
    throw new Error(`${call} on a closed session did not fail`);
  }) as never);
};

/**
 * `call` does not run and throws `returnValue` (`CKR_NAME:value`) as pkcs11js throws for it, the next time only
 * (`once`) or from now on; the session itself is left as it is, so the C_FindObjectsFinal after it succeeds.
 */
export const failAtPlain = (module: Pkcs11, call: PlainErrorCall, returnValue: `CKR_${string}:${number}`, once = false) => {
  const spy = vi.spyOn(module, call);
  const fail = (() => {
    throw new Error(returnValue);
  }) as never;
  return once ? spy.mockImplementationOnce(fail) : spy.mockImplementation(fail);
};
