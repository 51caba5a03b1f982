import type { KeptInside } from '../../../../domain/ports/secure-environment.ts';
import { ckr, pkcs11js } from './module.ts';
import type { TokenSession } from './token-session.ts';
import type { TokenKey } from './token-objects.ts';

/**
 * What a token answers when it will not set CKA_EXTRACTABLE false on an object: the object is read-only
 * (CKA_MODIFIABLE false, as Credence makes every key: SoftHSM2 2.6 answers CKR_ACTION_PROHIBITED, 0x1B, which
 * pkcs11js 2.1 names CKR_VENDOR_DEFINED:27), or the token changes no attribute after creation.
 */
const REFUSED: ReadonlySet<string> = new Set([
  'CKR_ACTION_PROHIBITED',
  'CKR_ATTRIBUTE_READ_ONLY',
  'CKR_ATTRIBUTE_VALUE_INVALID',
  'CKR_TEMPLATE_INCONSISTENT',
  'CKR_FUNCTION_NOT_SUPPORTED',
]);
const CKR_ACTION_PROHIBITED = 0x1b;

/**
 * The CKR_* name of a refusal to change the attribute, or undefined for any other error. Read by `ckr`, which reads
 * C_SetAttributeValue's errors too (pkcs11js throws them as a plain native Error, `CKR_NAME:number`); the number is
 * taken from that message or from a Pkcs11Error's `code`. Any other value (a lost session) is thrown to `run`, which
 * tells it as every call's (review 407: it was told `token_error`, never recovered).
 */
const refusal = (error: unknown): string | undefined => {
  const name = ckr(error);
  if (name === undefined) return undefined;
  if (REFUSED.has(name)) return name;
  const value = /:(\d+)$/.exec((error as Error).message)?.[1];
  const code = value !== undefined ? Number(value) : (error as { code?: unknown }).code;
  return code === CKR_ACTION_PROHIBITED ? 'CKR_ACTION_PROHIBITED' : undefined;
};

/**
 * Review 230: CKA_EXTRACTABLE set false on `key` when the token still lets it be wrapped out (PKCS#11 v2.40, secret key
 * objects, CKA_EXTRACTABLE: it may go from true to false, never back). For a key an earlier version made host-held under
 * `x-derivation=host` though its bytes are never needed outside the token (the pseudonym PRF key): from now on no
 * one holding the PIN can wrap it out. Read back after the change: a token that answers CKR_OK and keeps the value is
 * a refusal too. Any other failure (the session lost, the key gone) is thrown as every token call's is.
 */
export const keepInToken = (token: TokenSession, key: TokenKey): KeptInside => {
  const extractable = (): boolean =>
    token.run(() => {
      const [attribute] = token.module.C_GetAttributeValue(token.session, key.key, [{ type: pkcs11js.CKA_EXTRACTABLE }]);
      return Buffer.isBuffer(attribute?.value) && attribute.value[0] === 1;
    });
  if (!extractable()) return { kept: 'already' };
  const refused = token.run(() => {
    try {
      token.module.C_SetAttributeValue(token.session, key.key, [{ type: pkcs11js.CKA_EXTRACTABLE, value: false }]);
      return undefined;
    } catch (error) {
      const code = refusal(error);
      if (code === undefined) throw error;
      return code;
    }
  });
  if (refused !== undefined) return { kept: 'refused', returnValue: refused };
  return extractable() ? { kept: 'refused', returnValue: 'CKR_OK (CKA_EXTRACTABLE still true)' } : { kept: 'now' };
};
