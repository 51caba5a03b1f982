import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { certificateFingerprint, fromBase64url, toBase64url } from '../../../domain/crypto/index.ts';
import { base64urlString } from '../../../domain/crypto/base64url.ts';
import { MAX_CERTIFICATE_LENGTH } from '../../../domain/crypto/sizes.ts';
import { isCredenceError, isKeyNotFound, secureEnvironmentUnavailable, validationError, type CredenceError } from '../../../domain/errors.ts';
import { destroyNewKey, KeyHandle, type OwnedSecureEnvironment, type RandomSource } from '../../../domain/ports/index.ts';
import { chainValidity, issuerOf, MAX_COMMON_NAME, sameName, SERIAL_LENGTH, serialFromRandom } from '../../../domain/x509/issuance/index.ts';
import type { CaKeyKind, IssuingCa } from '../../../domain/x509/issuing-ca.ts';
import { issueOcspSigningCertificate, keyHash } from '../../../domain/x509/revocation/index.ts';
import { ocspResponderName, type OcspResponderNaming } from '../../../domain/x509/revocation/ocsp-signing-certificate.ts';
import { preparePrivateDir, writeFileAtomic } from '../files/index.ts';
import { refuseNewerFileVersion } from '../files/newer-file-version.ts';
import { KeyPresence } from './key-presence.ts';
import { caSigningKeyMissingNow } from './load.ts';
import { seSigner } from './se-signer.ts';

/** The delegated responder's credential: its certificate (issued by the CA) and its key in the Secure Environment. */
export interface OcspResponderCredential {
  readonly kind: CaKeyKind;
  readonly certificate: Uint8Array;
  /** SHA-1 of its public key (ResponderID byKey, RFC 6960 4.2.1). */
  readonly keyHash: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  sign(tbs: Uint8Array): Promise<Uint8Array>;
}

/** A week: short, since id-pkix-ocsp-nocheck means relying parties never ask whether it was revoked. */
export const DEFAULT_OCSP_SIGNER_VALIDITY_MS = 7 * 24 * 60 * 60 * 1000;
const MAX_FILE_BYTES = 64 * 1024;
const MAX_RETIRED = 16;

/**
 * The wait before a lost responder key is replaced again after the last attempt (review 335): 5 s, doubling to 60 s
 * while the attempts fail, as the Secure Environment's other recoveries wait (token-session.ts). Each attempt makes a
 * key in the Secure Environment, a synchronous call on a network HSM, and anonymous OCSP requests bring them.
 */
export const OCSP_SIGNER_REPLACE_WAIT_MS = { first: 5_000, most: 60_000 } as const;

/** The layout of the OCSP signer files this version writes and reads; a file of a newer one is refused. */
export const OCSP_SIGNER_FILE_VERSION = 1;

const OcspSignerFile = z.strictObject({
  version: z.literal(OCSP_SIGNER_FILE_VERSION),
  caId: z.string().max(63),
  /** Fingerprint of the CA certificate that issued it: another CA certificate (re-keyed, re-installed) means renew. */
  caFingerprint: z.string().max(71),
  keyKind: z.enum(['ed25519', 'p256']),
  keyHandle: KeyHandle,
  certificate: base64urlString({ max: MAX_CERTIFICATE_LENGTH }),
  notBefore: z.iso.datetime(),
  notAfter: z.iso.datetime(),
  /** Keys of replaced responder certificates, destroyed at the next renewal (a signature in flight may still use one). */
  retired: z.array(KeyHandle).max(MAX_RETIRED),
});
type OcspSignerFile = z.infer<typeof OcspSignerFile>;

export interface OcspSigningKeyOptions {
  /** The data folder (`<data>/pki/<ca>.ocsp.json`); absent: kept in memory, a new one each start. */
  readonly dataDir?: string;
  readonly se: OwnedSecureEnvironment;
  readonly ca: IssuingCa;
  readonly random: RandomSource;
  readonly now: () => number;
  readonly validityMs?: number;
  /**
   * The signer file (`path`) names as its key one the Secure Environment does not hold (`handle`: destroyed since, as
   * by a renewal after the backup the file was restored from): a new signer was issued in its place. For the start to
   * say at warn. `whileRunning`: found gone at a signature, not at the start (review 332: deleted from the token while
   * the service ran).
   */
  readonly onKeyGone?: (path: string, handle: KeyHandle, whileRunning: boolean) => void;
}

/**
 * The OCSP signing key of one CA (RFC 6960 4.2.2.2): a key the Secure Environment generates and holds, certified by
 * the CA with id-kp-OCSPSigning and id-pkix-ocsp-nocheck for a short validity, and renewed once two thirds of it
 * have passed (`renewIfDue`, on the service's schedule). The file holds the handle and the certificate, never key
 * material.
 */
export class OcspSigningKey {
  #current: OcspResponderCredential;
  #file: OcspSignerFile;
  readonly #o: OcspSigningKeyOptions;
  /** Whether the current key was last found missing (a signature met `not_found`): /readyz, through `missing`. */
  readonly #presence: KeyPresence;
  /** The replacement of a key found gone under way. */
  #replacing: Promise<void> | undefined;
  /** When a request may try a replacement again (performance.now()), and how many failed in a row (the backoff). */
  #replaceAgainAt = Number.NEGATIVE_INFINITY;
  #replaceFailures = 0;
  /** Why the last replacement failed (the CA's key missing too, say), told with the refusal until one succeeds. */
  #replaceFailed: unknown;

  private constructor(o: OcspSigningKeyOptions, file: OcspSignerFile, current: OcspResponderCredential) {
    this.#o = o;
    this.#file = file;
    this.#presence = new KeyPresence(
      () => this.#file.keyHandle,
      (handle) => ocspSigningKeyMissing(o.ca.id, handle, this.#replaceFailed),
      (handle) => o.se.describe(handle as KeyHandle),
    );
    this.#current = this.#watched(current);
  }

  /**
   * `credential`, its signatures watched: its key found gone from the Secure Environment (deleted from the token while
   * the service runs, review 332) is refused as `ocspSigningKeyMissing`, and a new signer is issued in its place as
   * at a start (`onKeyGone`, said at warn), at most every 5 s, doubling to 60 s while attempts fail, and not at all
   * while the CA's own key is known missing (each attempt makes a key and has the CA sign: an anonymous OCSP request
   * must not make one each, review 335). The answer that met it fails; the next is signed by the new key.
   */
  #watched(credential: OcspResponderCredential): OcspResponderCredential {
    return {
      ...credential,
      sign: async (tbs) => {
        const handle = this.#file.keyHandle;
        try {
          return await this.#presence.use(() => credential.sign(tbs));
        } catch (error) {
          const gone = isCredenceError(error, 'secure_environment_unavailable') && error.problem.code === 'secure_environment_unavailable' && error.problem.reason === 'ocsp_signing_key_missing';
          // Renewed meanwhile: the next answer is signed by the new key, nothing to replace.
          if (!gone || this.#file.keyHandle !== handle) throw error;
          if (performance.now() >= this.#replaceAgainAt) await this.#replaceUnlessCaMissing(handle);
          throw this.#replaceFailed === undefined ? error : ocspSigningKeyMissing(this.#o.ca.id, handle, this.#replaceFailed);
        }
      },
    };
  }

  /**
   * `#replaceGone`, unless the CA's own key was last found missing (review 335): the CA could not sign the new
   * responder certificate, so the key made for it would only be destroyed again. That refusal is kept as the reason
   * instead; the CA's key is looked for again at most every few seconds (key-presence.ts), a describe, not a key made.
   */
  async #replaceUnlessCaMissing(gone: KeyHandle): Promise<void> {
    const caMissing = await caSigningKeyMissingNow(this.#o.ca);
    if (caMissing !== undefined) {
      this.#replaceFailed = caMissing;
      return;
    }
    await this.#replaceGone(gone);
  }

  /** A new signer in place of the one whose key `gone` is not held any more; its failure kept for the refusal. */
  #replaceGone(gone: KeyHandle): Promise<void> {
    const began = performance.now();
    this.#replaceAgainAt = began + OCSP_SIGNER_REPLACE_WAIT_MS.first;
    return (this.#replacing ??= (async () => {
      try {
        // The keys retired before stay retired (a signature in flight may still use one); the gone key is dropped.
        const previous = this.#file;
        const file = await issue(this.#o, await withinBound(this.#o.se, previous.retired));
        this.#file = file;
        this.#current = this.#watched(await credentialOf(this.#o.se, file));
        this.#presence.forget();
        this.#replaceFailed = undefined;
        this.#replaceFailures = 0;
        try {
          this.#o.onKeyGone?.(this.#o.dataDir !== undefined ? signerPath(this.#o.dataDir, this.#o.ca.id) : '(in memory)', gone, true);
        } catch {
          // The sink must not undo the replacement.
        }
      } catch (error) {
        this.#replaceFailed = error;
        this.#replaceFailures++;
        const wait = Math.min(OCSP_SIGNER_REPLACE_WAIT_MS.most, OCSP_SIGNER_REPLACE_WAIT_MS.first * 2 ** Math.min(this.#replaceFailures - 1, 4));
        this.#replaceAgainAt = began + wait;
      }
    })().finally(() => {
      this.#replacing = undefined;
    }));
  }

  /**
   * Why its key cannot sign now (GET /readyz): the `ocspSigningKeyMissing` the last signature met while no signer
   * could be issued in its place yet; undefined otherwise. The key is looked for again at most every few seconds.
   */
  missing(): Promise<CredenceError | undefined> {
    return this.#presence.missing();
  }

  static async open(o: OcspSigningKeyOptions): Promise<OcspSigningKey> {
    const stored = o.dataDir === undefined ? undefined : readSignerFile(o.dataDir, o.ca.id);
    const usable = stored !== undefined && stored.caFingerprint === certificateFingerprint(o.ca.certificate) && stored.keyKind === o.ca.signer.kind;
    let gone: KeyHandle | undefined;
    if (usable) {
      // Review 133: a signer file restored from a backup older than two renewals names a key a PKCS#11 token has
      // destroyed since (the token is no part of the folder). It signs nothing any more, as the key of another CA
      // certificate does not, so a new signer takes its place rather than every start being refused. Only that key
      // gone counts: a token failing or refusing it otherwise still stops the start.
      const credential = await credentialOf(o.se, stored).catch((error: unknown) => {
        if (!isKeyNotFound(error, stored.keyHandle)) throw error;
        gone = stored.keyHandle;
        return undefined;
      });
      if (credential !== undefined) {
        const key = new OcspSigningKey(o, stored, credential);
        if (!key.due()) return key;
        await key.renew();
        return key;
      }
    }
    // Another CA certificate or key kind: the stored key certifies nothing any more, so it is retired with the rest
    // (found in review 27: it was dropped from the file and stayed in the Secure Environment, named by nothing). A key
    // gone is not: nothing is left of it to destroy.
    const retiring = stored === undefined ? [] : gone === undefined ? [...stored.retired, stored.keyHandle] : stored.retired;
    const file = await issue(o, await withinBound(o.se, retiring));
    const key = new OcspSigningKey(o, file, await credentialOf(o.se, file));
    // No signature of this process can be using them yet. One the Secure Environment will not destroy now stays
    // retired, for the next renewal to try again (review 53: it was dropped from the file, named by nothing).
    key.#file = { ...file, retired: await destroyKeys(o.se, file.retired) };
    key.#write();
    if (gone !== undefined) o.onKeyGone?.(signerPath(o.dataDir!, o.ca.id), gone, false);
    return key;
  }

  get current(): OcspResponderCredential {
    return this.#current;
  }

  /**
   * Two thirds of its validity have passed; or it begins after now and one issued now would begin earlier (review 270:
   * issued on a clock that ran ahead and has been stepped back since, nothing it signs verifies, "not yet valid", until
   * real time reaches its notBefore, days away for a clock days ahead). Not when a new one would begin no earlier (a CA
   * made on that clock begins after now too): it would be as far ahead, due again, and renewed at every tick.
   */
  due(): boolean {
    const { notBefore, notAfter } = this.#current;
    const now = this.#o.now();
    return now >= notBefore + ((notAfter - notBefore) * 2) / 3 || (now < notBefore && beginningAt(this.#o.ca, now) < notBefore);
  }

  /**
   * A new key and certificate when `due`, or in place of a key found gone that none replaced yet (tried again at each
   * tick, once the CA's own key is not known missing); true when it renewed.
   */
  async renewIfDue(): Promise<boolean> {
    const gone = (await this.#presence.missing()) === undefined ? undefined : this.#file.keyHandle;
    if (gone !== undefined) {
      await this.#replaceUnlessCaMissing(gone);
      if (this.#replaceFailed !== undefined) throw ocspSigningKeyMissing(this.#o.ca.id, gone, this.#replaceFailed);
      return true;
    }
    if (!this.due()) return false;
    await this.renew();
    return true;
  }

  /**
   * On disk, in this order: the new key beside every key it retires (written by `issue`), the keys retired at the
   * renewal before this one destroyed, then the new key beside the one it replaces. So after every write, and after
   * a kill or a failed write at any of them, every key this signer holds in the Secure Environment is named by the
   * file (found in review 27: the old file was written back between the two, naming neither the new key nor its
   * certificate, and a kill there left the new key in the Secure Environment for good).
   */
  async renew(): Promise<void> {
    const previous = this.#file;
    const file = await issue(this.#o, await withinBound(this.#o.se, [...previous.retired, previous.keyHandle]));
    this.#file = file;
    this.#current = this.#watched(await credentialOf(this.#o.se, file));
    this.#presence.forget();
    // Keys retired at the renewal before this one: no signature can still be using them. Those the Secure Environment
    // will not destroy now stay retired, for the next renewal.
    const kept = await destroyKeys(this.#o.se, previous.retired);
    this.#file = { ...file, retired: [...kept, previous.keyHandle] };
    this.#write();
  }

  #write(): void {
    if (this.#o.dataDir === undefined) return;
    writeSignerFile(this.#o.dataDir, this.#file);
  }
}

/**
 * The OCSP responder key of CA `caId` gone from the Secure Environment while the service runs (review 332): a Secure
 * Environment fault of the service's own (`ocsp_signing_key_missing`, /readyz unready while it lasts). A new signer
 * is issued in its place as soon as the CA can sign one; `replaceFailed`, why it could not yet.
 */
export const ocspSigningKeyMissing = (caId: string, handle: string, replaceFailed?: unknown): CredenceError =>
  secureEnvironmentUnavailable(
    'ocsp_signing_key_missing',
    `the OCSP responder key ${handle} of CA ${caId} (pki/${caId}.ocsp.json: keyHandle) is not in the service's Secure Environment: ` +
      (replaceFailed === undefined
        ? 'a new responder key and certificate are issued in its place'
        : `no new responder key could be issued in its place yet (${replaceFailed instanceof Error ? replaceFailed.message : String(replaceFailed)}); ` +
          'tried again once the CA can sign, at most every 5 s doubling to 60 s at OCSP requests, at the ticks, and at a restart'),
  );

/**
 * Each key destroyed; one already gone (destroyed before a kill the file did not see) is no error. Returns the keys
 * the Secure Environment refused to destroy, which the file must go on naming.
 */
const destroyKeys = async (se: OwnedSecureEnvironment, handles: readonly string[]): Promise<KeyHandle[]> => {
  const kept: KeyHandle[] = [];
  for (const handle of handles) {
    await se.destroy(handle as KeyHandle).catch((error: unknown) => {
      if (!isCredenceError(error, 'not_found')) kept.push(handle as KeyHandle);
    });
  }
  return kept;
};

/**
 * Keys to retire, cut to as many as the file holds: the oldest (retired at renewals before the previous one, which
 * only kills between the writes of a renewal leave behind, or the Secure Environment refused to destroy) destroyed
 * first, so none leaves the file still held. When refusals leave more than the file holds, the renewal is refused
 * before any key is made (the current key goes on signing), naming them: none is dropped.
 */
const withinBound = async (se: OwnedSecureEnvironment, handles: readonly string[]): Promise<string[]> => {
  const kept = [...(await destroyKeys(se, handles.slice(0, Math.max(0, handles.length - MAX_RETIRED)))), ...handles.slice(-MAX_RETIRED)];
  if (kept.length > MAX_RETIRED) {
    throw new Error(
      `the Secure Environment refused to destroy retired OCSP signing keys (${kept.slice(0, kept.length - MAX_RETIRED).join(', ')}), and the signer file names at most ${MAX_RETIRED}: no renewal until it destroys them`,
    );
  }
  return kept;
};


const signerPath = (dataDir: string, caId: string): string => join(dataDir, 'pki', `${caId}.ocsp.json`);

const readSignerFile = (dataDir: string, caId: string): OcspSignerFile | undefined => {
  const path = signerPath(dataDir, caId);
  if (!existsSync(path)) return undefined;
  const refuse = (message: string) => validationError([{ path, rule: 'ocsp_signer_file', message }], 'OCSP signer');
  if (statSync(path).size > MAX_FILE_BYTES) throw refuse(`larger than ${MAX_FILE_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw refuse('is not valid JSON');
  }
  // Before the schema: a newer layout is no damaged file of this one, and its keys are not to be replaced (review 123).
  refuseNewerFileVersion(value, path, 'OCSP signer', OCSP_SIGNER_FILE_VERSION);
  const parsed = OcspSignerFile.safeParse(value);
  if (!parsed.success) throw refuse(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  if (parsed.data.caId !== caId) throw refuse(`holds CA ${parsed.data.caId}, not ${caId}`);
  return parsed.data;
};

const writeSignerFile = (dataDir: string, file: OcspSignerFile): void => {
  preparePrivateDir(join(dataDir, 'pki'));
  writeFileAtomic(signerPath(dataDir, file.caId), `${JSON.stringify(OcspSignerFile.parse(file), null, 2)}\n`);
};

/**
 * How far back a responder certificate begins: beyond OpenSSL's default 5-minute tolerance for a relying party's
 * clock. It accepts an answer whose thisUpdate is that far ahead, but not a responder certificate not yet valid, and
 * right after a renewal every answer carries the new certificate (review 464: at a minute back, a relying party whose
 * clock was 1 to 5 minutes slow refused every answer for minutes after each renewal).
 */
const RESPONDER_BACKDATE_MS = 60 * 60_000;

/**
 * Where a responder certificate issued at `at` begins, in whole seconds as it writes it: an hour back
 * (RESPONDER_BACKDATE_MS), so a relying party whose clock is behind still accepts the responder; but never before the
 * CA (nor one above it) began (review 203: a minute before a CA just made), which validators requiring each
 * certificate's validity to lie within its issuer's refuse.
 */
const beginningAt = (ca: IssuingCa, at: number): number =>
  Math.max(Math.floor(at / 1000) * 1000 - RESPONDER_BACKDATE_MS, chainValidity(ca).notBefore.getTime());

const RESPONDER = 'Credence OCSP responder';

/**
 * The responder certificate's subject (review 351): `CN=Credence OCSP responder <caId>` as it always was when that
 * fits ub-common-name (ids of up to 40 characters) and is not the CA's own subject; else `CN=Credence OCSP responder,
 * OU=<caId>`, which always fits (ids run to 63 characters, ub-organizational-unit-name is 64); else, that too being
 * the CA's subject, another CN under the same OU. A responder named as its CA would be self-issued (issuer ==
 * subject), which relying parties take for a CA's own certificate. Names are compared as RFC 5280 7.1 does (sameName).
 */
const responderNaming = (ca: IssuingCa): OcspResponderNaming => {
  const caSubject = issuerOf(ca.certificate).name;
  const named = `${RESPONDER} ${ca.id}`;
  const candidates: OcspResponderNaming[] = [
    ...([...named].length <= MAX_COMMON_NAME ? [{ commonName: named }] : []),
    { commonName: RESPONDER, organizationalUnit: ca.id },
    { commonName: 'Credence OCSP signer', organizationalUnit: ca.id },
  ];
  // The last two differ from each other, so at most one of them is the CA's subject.
  return candidates.find((c) => !sameName(ocspResponderName(c), caSubject)) ?? candidates[candidates.length - 1]!;
};

/**
 * A fresh key in the Secure Environment and its certificate from the CA; written before it is used. Until that write
 * the file does not name the key: when anything before it fails (or the write itself, leaving the file as it was) the
 * key is destroyed here, since nothing else could ever name it (the port cannot list keys). Only a kill in that
 * window, between the key's generation and the write, still leaves it behind.
 */
const issue = async (o: OcspSigningKeyOptions, retired: readonly string[]): Promise<OcspSignerFile> => {
  const kind = o.ca.signer.kind;
  const now = Math.floor(o.now() / 1000) * 1000;
  // Never past the end of the CA's certificate nor of any certificate above it (found in review: a week past the
  // CA's end near it; then past a root ending before its intermediate): a responder certificate outliving any
  // certificate of its path fails a relying party's path validation (RFC 5280 6.1.3 (a)(2)) when it matters.
  const { notAfter: caEnds } = chainValidity(o.ca);
  const notBefore = beginningAt(o.ca, now);
  const notAfter = Math.min(now + (o.validityMs ?? DEFAULT_OCSP_SIGNER_VALIDITY_MS), caEnds.getTime());
  if (notAfter <= now) throw new Error(`CA ${o.ca.id} ended at ${caEnds.toISOString()} (its certificate or one above it): no OCSP responder certificate can be issued under it`);
  const handle = await o.se.generate(kind, { usage: 'sign' });
  try {
    const signer = await seSigner(o.se, handle, kind);
    const certificate = await issueOcspSigningCertificate({
      ca: o.ca,
      serial: serialFromRandom(o.random(SERIAL_LENGTH)),
      ...responderNaming(o.ca),
      responderKey: { kind, bytes: signer.publicKey },
      notBefore: new Date(notBefore),
      notAfter: new Date(notAfter),
    });
    const file: OcspSignerFile = {
      version: OCSP_SIGNER_FILE_VERSION,
      caId: o.ca.id,
      caFingerprint: certificateFingerprint(o.ca.certificate),
      keyKind: kind,
      keyHandle: handle,
      certificate: toBase64url(certificate),
      notBefore: new Date(notBefore).toISOString(),
      notAfter: new Date(notAfter).toISOString(),
      retired: [...retired].map((h) => KeyHandle.parse(h)),
    };
    if (o.dataDir !== undefined) writeSignerFile(o.dataDir, file);
    return file;
  } catch (error) {
    if (o.dataDir !== undefined && namesKey(o.dataDir, o.ca.id, handle)) throw error;
    // Named by no file: the error is the one place left that names it (review 53).
    throw await destroyNewKey(o.se, handle, error, `the new OCSP signing key ${handle}`);
  }
};

/** Whether the file on disk names `handle` as its key (a write that failed after its rename still put it there). */
const namesKey = (dataDir: string, caId: string, handle: KeyHandle): boolean => {
  try {
    return readSignerFile(dataDir, caId)?.keyHandle === handle;
  } catch {
    return false;
  }
};

const credentialOf = async (se: OwnedSecureEnvironment, file: OcspSignerFile): Promise<OcspResponderCredential> => {
  const signer = await seSigner(se, file.keyHandle, file.keyKind);
  return {
    kind: file.keyKind,
    certificate: fromBase64url(file.certificate),
    keyHash: keyHash(signer.publicKey),
    notBefore: Date.parse(file.notBefore),
    notAfter: Date.parse(file.notAfter),
    sign: (tbs) => signer.sign(tbs),
  };
};
