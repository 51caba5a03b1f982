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
