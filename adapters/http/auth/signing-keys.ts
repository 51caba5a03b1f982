import type { CryptoKey } from 'jose';
import { isCredenceError, isKeyNotFound } from '../../../domain/errors.ts';
import { destroyNewKey, type Clock, type KeyHandle, type OwnedSecureEnvironment } from '../../../domain/ports/index.ts';
import type { FolderKeyHeld } from '../../runtime/folder-keys-in-token.ts';
import type { AccessRegistry } from '../../runtime/index.ts';
import { importVerificationKey } from './jwt.ts';
import type { TokenRefusalRule } from './token-refusal.ts';
import {
  accessSigningKeyGone,
  accessSigningKeyLost,
  accessSigningKeyMissing,
  accessSigningKeyTokenNotTheFolders,
  notTheMissingKey,
} from './signing-key-refusals.ts';

export { accessSigningKeyGone, accessSigningKeyLost, accessSigningKeyMissing, accessSigningKeyTokenNotTheFolders };

/** A signing key read from the Secure Environment: its handle, its `kid` (the public key's fingerprint) and the key that verifies what it signed. */
export interface SigningKey {
  readonly handle: KeyHandle;
  readonly kid: string;
  readonly verification: CryptoKey;
}

/** What became of a key a rotation retired. */
export interface RetiredSigningKey {
  readonly kid: string;
  /** `retired`: it verifies the tokens it signed until the last ends; `destroyed`: none is live, it is gone. */
  readonly state: 'retired' | 'destroyed';
  readonly liveTokens: number;
  /** When the last of its live tokens expires (retired keys). */
  readonly until?: Date;
}

export interface SigningKeyRotation {
  readonly kid: string;
  readonly previous: readonly RetiredSigningKey[];
  /** Tokens revoked because they were signed with a withdrawn key. */
  readonly revoked: readonly string[];
  /**
   * The handle of the current key the token did not hold, withdrawn as `withdrawMissing` asked (`RotationOptions`)
   * whatever `withdrawPrevious`, its tokens among `revoked`. Its `kid` went with it, so it is not in `previous`.
   */
  readonly goneFromToken?: string;
}

export interface RotationOptions {
  /** The old key may be compromised: every token a retired key signed is revoked at once and the key destroyed. */
  readonly withdrawPrevious: boolean;
  /**
   * The handle of the current key the token does not hold, on the operator's word that it was destroyed there
   * (review 137): withdrawn, its tokens revoked. Without it such a key refuses the rotation (`accessSigningKeyGone`),
   * as does a handle other than that key's, and a token shown not to be the folder's
   * (`accessSigningKeyTokenNotTheFolders`) refuses it with it: nothing is written.
   */
  readonly withdrawMissing?: string;
}

export interface SigningKeysOptions {
  /**
   * The Secure Environment is a PKCS#11 token (docs/hsm.md), no part of the data folder: a current key it does not
   * hold is another token's, or was destroyed there, and is refused so (`accessSigningKeyGone`); `rotate` withdraws
   * it only when told to (`RotationOptions.withdrawMissing`). Otherwise (the embedded one) such a key is
   * `accessSigningKeyMissing`, its files to be restored, and a rotation is refused.
   */
  readonly keysInToken?: boolean;
  /**
   * With `keysInToken`, opening takes such a key as it is, and only what needs it is refused (signing a token): what a
   * local command opens with, `rotate` among them. The service's start refuses it.
   */
  readonly openWithoutCurrentKey?: boolean;
  /**
   * With `keysInToken`: the keys of other owners the data folder's records name, each with whether the token holds it
   * (the log key: `logKeyHeld`). With access.db's retired keys, what shows the token not to be the folder's before a
   * rotation withdraws a current key it does not hold (review 137).
   */
  readonly otherKeysOfTheFolder?: () => Promise<readonly FolderKeyHeld[]>;
  /**
   * Tokens the verifier refuses whatever their expiry (token-refusal.ts, under the service's settings): they keep no
   * retired key from being destroyed (review 158: a token refused for a lifetime past a lowered
   * `tokens.maxTtlSeconds` kept its key until it expired). Absent: every token neither revoked nor expired keeps it.
   */
  readonly refused?: TokenRefusalRule;
}

export interface SigningKeys {
  /**
   * The rule by which this process counts live tokens (SigningKeysOptions.refused): a key's, and a subject's against
   * its cap (review 166: the issuer counted by its own `maxTtlSeconds`, which a local command's need not be).
   */
  readonly refused: TokenRefusalRule;
  /** The key that signs new tokens now, as access.db says (another process may have rotated it). */
  current(): Promise<SigningKey>;
  /**
   * `key` signs `input` in the Secure Environment. Gone from it while access.db still names it current is
   * `accessSigningKeyLost`; gone once a rotation retired it (another process's), `not_found`: the caller signs again
   * with the key that took over.
   */
  sign(key: SigningKey, input: Uint8Array): Promise<Uint8Array>;
  /**
   * Whether the key access.db names as current was read: false only when it is gone from the token and the keys were
   * opened `openWithoutCurrentKey` (or another process rotated since and it is not read yet).
   */
  currentRead(): boolean;
  /** The verification key of a current or retired key by its `kid`; undefined for a key access.db does not name. */
  verificationKey(kid: string): Promise<CryptoKey | undefined>;
  /** The handle of the key a `kid` names, once `verificationKey` found it. */
  handleOf(kid: string): string | undefined;
  /**
   * A new key signs from now on. The one before is retired: it signs nothing more and verifies the tokens it signed
   * until they end, or, `withdrawPrevious` (it may be compromised), every token a retired key signed is revoked at
   * once and the key destroyed. A current key the token does not hold: `RotationOptions.withdrawMissing`.
   */
  rotate(by: string, options: RotationOptions): Promise<SigningKeyRotation>;
  /** Destroys the retired keys no live token was signed with; returns their `kid`s. */
  prune(): Promise<readonly string[]>;
}

/** No token refused: every one neither revoked nor expired is live (each row read: no role is known to SQL). */
const NONE_REFUSED: TokenRefusalRule = { refused: () => false, maxTtlSeconds: Number.POSITIVE_INFINITY, roles: [], subjectMarks: [] };

/**
 * The token signing keys of a data folder: their handles in access.db, the keys in the Secure Environment (owner
 * `credence:access`), read once per process and again when access.db names a key this process has not read (rotated
 * by `credence token rotate-key` in another process). A verification key is only ever read from the Secure
 * Environment, whose records are sealed, never from access.db: write access to access.db alone mints no token.
 */
export const openSigningKeys = async (se: OwnedSecureEnvironment, registry: AccessRegistry, clock: Clock, options: SigningKeysOptions = {}): Promise<SigningKeys> => {
  const keysInToken = options.keysInToken === true;
  const refused = options.refused ?? NONE_REFUSED;
  const byHandle = new Map<string, SigningKey>();
  const byKid = new Map<string, SigningKey>();
  const forget = (handle: string): void => {
    const key = byHandle.get(handle);
    if (key === undefined) return;
    byHandle.delete(handle);
    byKid.delete(key.kid);
  };
  /**
   * Reads a key from the Secure Environment; undefined when it holds no such key. A key access.db names as current
   * and the Secure Environment does not hold is `accessSigningKeyMissing` (`accessSigningKeyGone` in a token; undefined
   * too with `tolerateGone`), unless access.db names another current key by now (rotated and pruned by another
   * process between the two reads; found in review): that one is read.
   */
  const load = async (handle: string, current: boolean, tolerateGone = false): Promise<SigningKey | undefined> => {
    const known = byHandle.get(handle);
    if (known !== undefined) return known;
    let described;
    try {
      described = await se.describe(handle as KeyHandle);
    } catch (error) {
      if (!isKeyNotFound(error, handle)) throw error;
      if (!current) return undefined;
      const now = registry.currentSigningKey();
      if (now !== undefined && now !== handle) return load(now, true, tolerateGone);
      if (!keysInToken || now === undefined) throw accessSigningKeyMissing(handle);
      if (tolerateGone) return undefined;
      throw accessSigningKeyGone(handle);
    }
    const key = { handle: described.handle, kid: described.fingerprint, verification: await importVerificationKey(described.publicKey!) };
    byHandle.set(handle, key);
    byKid.set(key.kid, key);
    return key;
  };
  /** Every key access.db names now, and none it stopped naming. */
  const refresh = async (tolerateGone = false): Promise<void> => {
    const named = registry.signingKeys();
    const handles = new Set(named.map((k) => k.handle));
    for (const handle of [...byHandle.keys()]) if (!handles.has(handle)) forget(handle);
    for (const k of named) await load(k.handle, k.retiredAt === undefined, tolerateGone);
  };
  const destroy = async (handle: string): Promise<void> => {
    try {
      await se.destroy(handle as KeyHandle);
    } catch (error) {
      // Destroyed already: by another process's prune, or by this one before a crash kept it from forgetting.
      if (!isCredenceError(error, 'not_found')) throw error;
    }
    registry.forgetSigningKey(handle);
    forget(handle);
  };
  const retiredKeys = () => registry.signingKeys().filter((k) => k.retiredAt !== undefined);
  /**
   * Review 137: a current key the token does not hold is withdrawn (its tokens revoked, whatever `withdrawPrevious`)
   * only on the operator's word, `withdrawMissing` naming it: another token than the folder's (CREDENCE_SECURE_ENVIRONMENT
   * naming another) holds none of its keys either, and the rotation withdrew the folder's real key and made the new one
   * where its service never looks. And never when the token holds none of the folder's other keys while it names some
   * (its retired keys, the log key): a key's handle is random, so a token holding one is the folder's, and a token
   * holding none of several is another. A folder naming no other key leaves the operator's word alone to go on, once
   * its opener has refused a folder whose keys, keys.db's among them, are in its embedded Secure Environment (review
   * 209: refuseKeysInTheFoldersEmbeddedSecureEnvironment, before the token is opened).
   */
  const refuseUnlessWithdrawable = async (gone: string, withdrawMissing: string | undefined): Promise<void> => {
    const others: FolderKeyHeld[] = [
      ...retiredKeys().map((k) => ({ record: 'a retired API token signing key access.db names', handle: k.handle, held: byHandle.has(k.handle) })),
      ...((await options.otherKeysOfTheFolder?.()) ?? []),
    ];
    if (others.length > 0 && others.every((k) => !k.held)) throw accessSigningKeyTokenNotTheFolders(gone, others);
    if (withdrawMissing === undefined) throw accessSigningKeyGone(gone);
    if (withdrawMissing !== gone) throw notTheMissingKey(withdrawMissing, gone, gone);
  };
  /**
   * The `kid`s destroyed, and the first failure: a key the Secure Environment will not destroy now stays retired in
   * access.db (the next prune tries it again) and does not keep the others from going.
   */
  const pruneAll = async (): Promise<{ destroyed: string[]; failed?: { error: unknown } }> => {
    const destroyed: string[] = [];
    let failed: { error: unknown } | undefined;
    // No token is recorded with a retired key (access.db refuses it), so its live count only ever falls: none now
    // is none for good (a token refused now under the settings, were they raised again, would find its key gone: it
    // was refused on every request meanwhile, and so is no working token).
    for (const { handle } of retiredKeys()) {
      try {
        if (registry.liveSignedWith(handle, clock.now(), refused).count > 0) continue;
        const kid = (await load(handle, false))?.kid;
        await destroy(handle);
        if (kid !== undefined) destroyed.push(kid);
      } catch (error) {
        failed ??= { error };
      }
    }
    return { destroyed, ...(failed !== undefined ? { failed } : {}) };
  };
  const prune = async (): Promise<readonly string[]> => {
    const { destroyed, failed } = await pruneAll();
    if (failed !== undefined) throw failed.error;
    return destroyed;
  };
  /**
   * A key this process made and access.db does not name (its write failed, or another process's key won): destroyed,
   * or, when the Secure Environment refuses, named in what is thrown, since nothing else names it (review 53).
   */
  const discardUnnamed = async (created: KeyHandle, error: unknown): Promise<unknown> => {
    forget(created);
    return destroyNewKey(se, created, error, `the new API token signing key ${created}`);
  };

  if (registry.currentSigningKey() === undefined) {
    const created = await se.generate('ed25519', { usage: 'sign' });
    let winner;
    try {
      winner = registry.claimSigningKey(created, clock.now());
    } catch (error) {
      throw await discardUnnamed(created, error);
    }
    // Another process made one first: use it, leave nothing of ours behind.
    if (winner !== created) {
      const left = await discardUnnamed(created, undefined);
      if (left !== undefined) throw left;
    }
  }
  await refresh(keysInToken && options.openWithoutCurrentKey === true);

  return {
    refused,
    async current() {
      const handle = registry.currentSigningKey();
      if (handle === undefined) throw new Error('access.db names no current token signing key');
      return (await load(handle, true))!;
    },
    async sign(key, input) {
      try {
        return await se.sign(key.handle, input);
      } catch (error) {
        if (!isKeyNotFound(error, key.handle) || registry.currentSigningKey() !== key.handle) throw error;
        // Kept: the next request is answered alike, and signs again once the token holding the key is back.
        throw accessSigningKeyLost(key.handle, keysInToken);
      }
    },
    async verificationKey(kid) {
      if (!byKid.has(kid)) await refresh();
      return byKid.get(kid)?.verification;
    },
    currentRead: () => {
      const handle = registry.currentSigningKey();
      return handle !== undefined && byHandle.has(handle);
    },
    handleOf: (kid) => byKid.get(kid)?.handle,
    async rotate(by, { withdrawPrevious, withdrawMissing }) {
      // Read before the commit, so the commit is the last step that can fail: the keys named now (for what the
      // answer says of them) and the new key (whose kid the answer names).
      for (const k of registry.signingKeys()) await load(k.handle, false);
      // Review 133: a current key the token does not hold signs and verifies nothing. Only in a token: the embedded
      // Secure Environment's key is missing only from files a restore brings back.
      const current = registry.currentSigningKey();
      const gone = keysInToken && current !== undefined && !byHandle.has(current) ? current : undefined;
      if (gone !== undefined) await refuseUnlessWithdrawable(gone, withdrawMissing);
      else if (withdrawMissing !== undefined) throw notTheMissingKey(withdrawMissing, current, undefined);
      const created = await se.generate('ed25519', { usage: 'sign' });
      let rotated;
      try {
        const key = (await load(created, false))!;
        const withdrawal = { withdraw: withdrawPrevious, ...(gone !== undefined ? { withdrawKey: gone } : {}) };
        rotated = { key, ...registry.rotateSigningKey(created, clock.now(), by, withdrawal) };
      } catch (error) {
        throw await discardUnnamed(created, error);
      }
      const retired = retiredKeys().map((k) => ({ handle: k.handle, kid: byHandle.get(k.handle)?.kid }));
      // The rotation is committed: a key the Secure Environment will not destroy now is answered as retired (the next
      // prune destroys it), never as a failure an operator would retry into a second rotation (review 53).
      const destroyed = new Set((await pruneAll()).destroyed);
      const now = clock.now();
      return {
        kid: rotated.key.kid,
        revoked: rotated.revoked,
        ...(gone !== undefined ? { goneFromToken: gone } : {}),
        previous: retired.flatMap(({ handle, kid }): RetiredSigningKey[] => {
          if (kid === undefined) return [];
          if (destroyed.has(kid)) return [{ kid, state: 'destroyed', liveTokens: 0 }];
          const live = registry.liveSignedWith(handle, now, refused);
          return [{ kid, state: 'retired', liveTokens: live.count, ...(live.lastExpiry !== undefined ? { until: live.lastExpiry } : {}) }];
        }),
      };
    },
    prune,
  };
};
