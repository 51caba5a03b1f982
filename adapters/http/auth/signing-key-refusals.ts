import { secureEnvironmentUnavailable, validationError, type CredenceError } from '../../../domain/errors.ts';
import type { FolderKeyHeld } from '../../runtime/folder-keys-in-token.ts';

// The refusals about the API token signing key access.db names and the Secure Environment's holding of it.

/**
 * access.db names a signing key the data folder's Secure Environment does not hold: the two come from different
 * places (an access.db restored or copied without the Secure Environment files, or a Secure Environment replaced).
 * No new key is made in its place: every token signed by the old one would stop working, silently. A `validation`
 * CredenceError naming the rule `access_signing_key_present`.
 */
export const accessSigningKeyMissing = (handle: string): CredenceError =>
  validationError(
    [
      {
        path: 'access.db: signingKey',
        rule: 'access_signing_key_present',
        message:
          `the API token signing key ${handle} recorded in access.db is missing from the data folder's Secure Environment ` +
          // The KEK is in the folder unless CREDENCE_KEK_FILE keeps it elsewhere (review 47 item 4): both are named.
          "(secure-environment.sqlite, secure-environment.wrapping-keys, and the KEK: secure-environment.kek, or the file CREDENCE_KEK_FILE names when it is set): if the service of this folder " +
          'runs with a PKCS#11 Secure Environment (docs/hsm.md), give this command the same one (CREDENCE_SECURE_ENVIRONMENT, or ' +
          "the service's --config file); otherwise restore the Secure Environment files that belong with this access.db; " +
          'or, to start access control over with a new key (every token issued so far stops working), move access.db aside and issue new tokens',
      },
    ],
    'access control',
  );

/**
 * access.db names as current a signing key the PKCS#11 token in use does not hold (review 133). Two causes, which
 * nothing here tells apart (review 137: taken for the second, a rotation with the wrong token withdrew the folder's
 * real key): the command was given another token than the folder's, or the key was destroyed there, as a rotation
 * and the prune after it do, since the backup access.db was restored from (no restore brings a key of a token back,
 * so the embedded Secure Environment's advice does not apply). Same rule as `accessSigningKeyMissing`. A third cause,
 * a folder whose keys are in its own embedded Secure Environment, never reaches this advice, which there revoked every
 * token and left the key in the folder (review 209): it is refused before the token is opened
 * (refuseKeysInTheFoldersEmbeddedSecureEnvironment), as is a start before it makes or writes anything.
 */
export const accessSigningKeyGone = (handle: string): CredenceError =>
  validationError(
    [
      {
        path: 'access.db: signingKey',
        rule: 'access_signing_key_present',
        message:
          `the API token signing key ${handle} that access.db records as current is not in the PKCS#11 token of the Secure Environment in use. ` +
          "Either that token is not the folder's: give the command the one the folder's service uses (check CREDENCE_SECURE_ENVIRONMENT, " +
          'or the --config file); or the key was destroyed there (as credence token rotate-key and the prune after it do) after the ' +
          'backup this access.db was restored from, and a restore of the data folder brings back no key of a token: then the tokens it ' +
          `signed verify no more; run credence token rotate-key --withdraw-missing ${handle} with this Secure Environment (same --data or ` +
          '--config): it makes a new key and withdraws this one, revoking its tokens; then issue new tokens',
      },
    ],
    'access control',
  );

/**
 * The current key gone from the Secure Environment while the service runs (review 162: deleted from the token behind
 * Credence's back; before, POST /v1/tokens answered a bare 500): what a start says of it (`accessSigningKeyGone`, or
 * `accessSigningKeyMissing` out of a token), as a `secure_environment_unavailable` naming the key, a 503: the
 * service's key, not the caller's request.
 */
export const accessSigningKeyLost = (handle: string, keysInToken: boolean): CredenceError => {
  const refusal = (keysInToken ? accessSigningKeyGone : accessSigningKeyMissing)(handle).problem;
  const said = refusal.code === 'validation' ? refusal.issues.map((issue) => issue.message).join('; ') : refusal.message;
  return secureEnvironmentUnavailable('api_token_signing_key_missing', `${said} (access.db: signingKey)`);
};

/** How many of the folder's other keys a refusal names by handle; the rest are counted. */
const NAMED_KEYS = 4;

/**
 * Review 137: the current key is not in the token, and neither is any other key the data folder names (`others`, each
 * not held): the token is not the folder's, whatever `--withdraw-missing` says. Same rule as `accessSigningKeyMissing`.
 */
export const accessSigningKeyTokenNotTheFolders = (handle: string, others: readonly FolderKeyHeld[]): CredenceError => {
  const named = others.slice(0, NAMED_KEYS).map((k) => `${k.record}, ${k.handle}`);
  const more = others.length > NAMED_KEYS ? `; and ${others.length - NAMED_KEYS} more` : '';
  return validationError(
    [
      {
        path: 'access.db: signingKey',
        rule: 'access_signing_key_present',
        message:
          `the API token signing key ${handle} that access.db records as current is not in the PKCS#11 token of the Secure Environment in use, ` +
          `and neither is any other key the data folder names (${named.join('; ')}${more}): this token is not the folder's, and nothing ` +
          "was withdrawn. Give the command the one the folder's service uses (check CREDENCE_SECURE_ENVIRONMENT, or the --config file). " +
          "Only if every one of these keys was destroyed in the folder's token since the backup the folder was restored from, move " +
          'access.db aside to start access control over with a new key (every token issued so far stops working)',
      },
    ],
    'access control',
  );
};

/** `--withdraw-missing` names another key than the current one the token does not hold, or that key is there. */
export const notTheMissingKey = (given: string, current: string | undefined, gone: string | undefined): CredenceError =>
  validationError(
    [
      {
        path: '--withdraw-missing',
        rule: 'withdraw_missing_names_the_missing_key',
        message:
          gone !== undefined
            ? `${given} is not the current API token signing key the Secure Environment does not hold: that is ${gone}`
            : `${given}: the Secure Environment holds the current API token signing key access.db names (${current ?? 'none'}), nothing is missing: rotate without --withdraw-missing`,
      },
    ],
    'access control',
  );
