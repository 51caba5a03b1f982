import type Database from 'better-sqlite3';
import { constantTimeEqual, toHex } from '../../domain/crypto/index.ts';
import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';
import {
  ocspErrorResponseDer,
  parseOcspRequest,
  revocationIssuer,
  signedOcspResponse,
  type CertStatus,
  type OcspCertId,
  type OcspErrorStatus,
  type RevocationIssuer,
} from '../../domain/x509/revocation/index.ts';
import { certificateStanding } from '../../projections/pki/index.ts';
import type { OcspResponderCredential } from '../driven/pki/ocsp-signing-key.ts';
import type { CommittedReadModel } from './pki-committed.ts';
import type { PublishedRevocation } from '../driven/pki/published-revocations.ts';
import type { PublishedLedger, UnrecordedRun } from './pki-published.ts';
import { readCompletePki } from './pki-complete.ts';

export interface OcspResponderOptions {
  /** The `pki` read model as committed (pki-committed.ts): never what an open projection batch wrote. */
  readonly reads: CommittedReadModel;
  /** A position the read model must have projected before anything is answered from it (pki-complete.ts `pkiStartFloor`). */
  readonly mustReach?: bigint;
  readonly ca: IssuingCa;
  /** What the CA's CRLs listed: a revocation published there stays `revoked` when the event log lost it (a restore). */
  readonly published?: PublishedLedger;
  /** The current responder credential (renewed before it expires: asked for on every signature). */
  readonly credential: () => Pick<OcspResponderCredential, 'kind' | 'certificate' | 'keyHash' | 'sign'>;
  readonly now: () => number;
  /** nextUpdate - thisUpdate of each answer (default 1 h). A cached answer is signed again after a quarter of it. */
  readonly validityMs?: number;
  /**
   * Cached answers kept at most (default 100 000; the oldest go first). One per CertID as asked (hash algorithm,
   * issuer hashes, serial), at most MAX_CACHED_PER_SERIAL per certificate; an answer past its quarter is dropped.
   */
  readonly maxCached?: number;
  readonly onError?: (error: unknown) => void;
}

export interface OcspAnswer {
  readonly der: Uint8Array;
  /** What the answer says, for logs and metrics: a response status, or `successful` and the certificate statuses. */
  readonly outcome: OcspErrorStatus | 'successful';
  /** Why a request was refused (never sent to the client: RFC 6960 error responses carry the status only). */
  readonly reason?: string;
  /** A response without nonce about one certificate, good for an HTTP cache until `nextUpdate` (RFC 5019 6). */
  readonly cacheable: boolean;
  readonly producedAt?: number;
  readonly nextUpdate?: number;
}

interface Cached {
  readonly status: CertStatus;
  readonly der: Uint8Array;
  readonly producedAt: number;
  readonly nextUpdate: number;
  readonly serialNumber: string;
  /** The CertID the answer's SingleResponse carries, as the request gave it (RFC 6960 4.2.1): served only to it. */
  readonly certId: Uint8Array;
}

/** What the cache holds, for tests and metrics. */
export interface OcspCacheSize {
  /** Signed answers kept. */
  readonly answers: number;
  /** Certificates they are about. */
  readonly serials: number;
  /** Request bytes remembered with the CertID they ask about (answered again without being parsed). */
  readonly requests: number;
}

export const DEFAULT_OCSP_VALIDITY_MS = 60 * 60 * 1000;
/**
 * Answers kept per certificate: one per hash algorithm a CertID naming this CA may use (sha1, sha256, sha384, sha512).
 * A backstop: the key admits no more for a certificate of ours.
 */
export const MAX_CACHED_PER_SERIAL = 4;
/** Request bytes remembered (the newest): a hit costs a lookup instead of a parse (~2 us against several hundred). */
export const MAX_REMEMBERED_OCSP_REQUESTS = 1024;
/** Longer requests are not remembered: one without nonce about one certificate is 80 to 250 bytes. */
const MAX_REMEMBERED_REQUEST_BYTES = 512;
/**
 * A CertID longer than this is answered but its answer not cached: a SHA-512 one with a 20-octet serial is about
 * 180 bytes, and the answer echoes the CertID (hash algorithm parameters are the sender's, up to the request's 16 KiB).
 */
const MAX_CACHED_CERT_ID_BYTES = 256;

/** Where the answer about one CertID is cached, and the CertID bytes it must carry to be served. */
interface Slot {
  readonly key: string;
  readonly certId: Uint8Array;
}

/**
 * The cache key of a CertID: what decides its answer (RFC 6960 4.1.1: hash algorithm, issuer name and key hashes,
 * serial), never the request's other bytes, so requests differing only in extensions share one entry. Bounded:
 * an answer is cached only for a CertID naming this CA (fixed-length hashes) and one of its serials.
 */
const slotOf = (id: OcspCertId): Slot | undefined =>
  id.hash === undefined || id.der.length > MAX_CACHED_CERT_ID_BYTES
    ? undefined
    : { key: `${id.hash}:${toHex(id.issuerNameHash)}:${toHex(id.issuerKeyHash)}:${id.serialNumber}`, certId: id.der };

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a === b || Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

/**
 * The OCSP responder of one issuing CA (RFC 6960): answers good, revoked (time, reason) or unknown from the `pki`
 * read model, signed by the CA's delegated responder. Answers without a nonce are cached per CertID and dropped
 * when the certificate is revoked (`invalidate`, called as the projection records it); a request with a nonce
 * (RFC 8954) gets the cached status signed afresh with the nonce echoed. A CertID naming another issuer is
 * answered `unknown`; a request naming none of this CA's certificates is `unauthorized` (RFC 6960 2.3).
 */
export class OcspResponder {
  readonly ca: IssuingCa;
  readonly #o: OcspResponderOptions;
  readonly #issuer: RevocationIssuer;
  readonly #validityMs: number;
  readonly #maxCached: number;
  /**
   * Answers by CertID (`slotOf`), oldest first (Map order is insertion order and an answer replaced is inserted
   * anew). `#bySerial` finds a certificate's entries when it is revoked, and bounds them.
   */
  readonly #cache = new Map<string, Cached>();
  readonly #bySerial = new Map<string, Set<string>>();
  /**
   * Request bytes without nonce (hex, at most MAX_REMEMBERED_REQUEST_BYTES) and the CertID they parse to: answered
   * from `#cache` without being parsed. At most MAX_REMEMBERED_OCSP_REQUESTS, the oldest go first; the bytes decide
   * the parse, so an entry never goes stale, and one whose answer was dropped finds none.
   */
  readonly #requests = new Map<string, Slot>();
  /** Bumped by every invalidation: an answer computed before one is not cached after it. */
  #generation = 0;
  /**
   * Serials invalidated (the projection's notice, from inside its transaction). When that transaction can stay open
   * across awaits (`uncommittedPkiWrites`), a committed read may not show the change yet, and what it says about them
   * is not cached. Emptied whenever no such transaction is open (every notice is then settled). A notice from the
   * runner's synchronous batch is not kept at all: that batch commits before any answer is computed (an answer
   * computed before it is not cached: `#generation`), so in the service this set stays empty rather than growing
   * with every revocation until the next uncached OCSP request.
   */
  readonly #unsettled = new Set<string>();

  constructor(options: OcspResponderOptions) {
    this.#o = options;
    this.ca = options.ca;
    this.#issuer = revocationIssuer(options.ca.certificate);
    this.#validityMs = options.validityMs ?? DEFAULT_OCSP_VALIDITY_MS;
    this.#maxCached = options.maxCached ?? 100_000;
    if (!Number.isSafeInteger(this.#validityMs) || this.#validityMs < 4000) throw new RangeError('validityMs: must be a whole number of ms >= 4000');
  }

  /** The certificate `serialNumber` changed status: cached answers about it are dropped. */
  invalidate(serialNumber: string): void {
    this.#generation++;
    if (this.#o.reads.uncommittedPkiWrites()) this.#unsettled.add(serialNumber);
    for (const key of this.#bySerial.get(serialNumber) ?? []) this.#forget(key);
  }

  /** Serials whose change may still be uncommitted (answers about them are not cached): for tests and metrics. */
  get unsettled(): number {
    return this.#unsettled.size;
  }

  /** What the cache holds (read-only): for tests and metrics. */
  get cacheSize(): OcspCacheSize {
    return { answers: this.#cache.size, serials: this.#bySerial.size, requests: this.#requests.size };
  }

  /** Everything changed (a rebuild of the read model, a new responder certificate). */
  clear(): void {
    this.#generation++;
    this.#cache.clear();
    this.#bySerial.clear();
    this.#requests.clear();
  }

  #ours(id: OcspCertId): boolean {
    if (id.hash === undefined) return false;
    const expected = this.#issuer.certIdHashes[id.hash];
    return constantTimeEqual(expected.name, id.issuerNameHash) && constantTimeEqual(expected.key, id.issuerKeyHash);
  }

  /**
   * `toRecord` collects the revocations answered `revoked` from the read model that the ledger does not hold yet:
   * they are recorded as published before the answer is signed.
   */
  #status(db: Database.Database, id: OcspCertId, now: number, toRecord: PublishedRevocation[]): CertStatus {
    if (!this.#ours(id)) return { status: 'unknown' };
    // What a CRL listed stands, as the CRLs keep it: its first time and reason, even when the log lost it (a restore)
    // or holds a later revocation of the same certificate.
    const published = this.#o.published?.get(id.serialNumber);
    if (published !== undefined) return { status: 'revoked', revokedAt: Date.parse(published.revokedAt), reason: published.reason };
    const standing = certificateStanding(db, this.ca.id, id.serialNumber);
    switch (standing.status) {
      case 'revoked':
        // A `revoked` a relying party saw must survive a restore of the event log, as a CRL entry does: recorded before
        // it is signed. Not for a certificate past its notAfter: its entry leaves the CRLs, nothing can make it valid.
        if (Date.parse(standing.notAfter) > now) {
          const { credentialId, revokedAt, reason, notAfter } = standing;
          toRecord.push({ serialNumber: id.serialNumber, credentialId, revokedAt, reason, notAfter });
        }
        return { status: 'revoked', revokedAt: Date.parse(standing.revokedAt), reason: standing.reason };
      case 'good':
        return { status: 'good' };
      case 'unknown':
        return { status: 'unknown' };
      default: {
        const never: never = standing;
        throw new TypeError(`unknown standing ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * Records `revocations` in the ledger (synced) unless it holds them. A failed write is reported once per run of
   * failures and returns false.
   */
  #recorded(revocations: readonly PublishedRevocation[]): boolean {
    const ledger = this.#o.published;
    // Nothing to write (the usual case) is not a write that succeeded: it must not end a run of reported failures.
    if (ledger === undefined || revocations.every((r) => ledger.get(r.serialNumber) !== undefined)) return true;
    return ledger.recordOrReport(revocations, this.#unrecorded, this.#o.onError) === undefined;
  }

  /** Whether the last write to the ledger failed: reported once, not at every request while the disk stays full. */
  readonly #unrecorded: UnrecordedRun = { failing: false };

  /** Served from the cache for a quarter of its validity, well before its nextUpdate. */
  #fresh(entry: Cached | undefined, now: number): boolean {
    return entry !== undefined && now < entry.producedAt + this.#validityMs / 4;
  }

  /** The cached answer to a request without nonce asking about `certId` only, if it is fresh and carries that CertID. */
  #answerFor(slot: Slot, now: number): Cached | undefined {
    const entry = this.#cache.get(slot.key);
    // The same key with other CertID bytes (hash parameters NULL or absent, say) is another request's answer.
    return entry !== undefined && this.#fresh(entry, now) && sameBytes(entry.certId, slot.certId) ? entry : undefined;
  }

  #forget(key: string): void {
    const entry = this.#cache.get(key);
    if (entry === undefined) return;
    this.#cache.delete(key);
    const keys = this.#bySerial.get(entry.serialNumber);
    keys?.delete(key);
    if (keys?.size === 0) this.#bySerial.delete(entry.serialNumber);
  }

  #rememberRequest(request: string | undefined, slot: Slot): void {
    if (request === undefined) return;
    this.#requests.delete(request);
    this.#requests.set(request, slot);
    for (const oldest of this.#requests.keys()) {
      if (this.#requests.size <= MAX_REMEMBERED_OCSP_REQUESTS) break;
      this.#requests.delete(oldest);
    }
  }

  #remember(key: string, entry: Cached, now: number): void {
    // Inserted anew, not updated in place: the Map stays ordered oldest first.
    this.#forget(key);
    this.#cache.set(key, entry);
    let keys = this.#bySerial.get(entry.serialNumber);
    if (keys === undefined) this.#bySerial.set(entry.serialNumber, (keys = new Set()));
    keys.add(key);
    for (const oldest of keys) {
      if (keys.size <= MAX_CACHED_PER_SERIAL) break;
      this.#forget(oldest);
    }
    // The oldest go first: past their freshness (never served again), or beyond the count.
    for (const [oldest, old] of this.#cache) {
      if (this.#cache.size <= this.#maxCached && this.#fresh(old, now)) break;
      this.#forget(oldest);
    }
  }

  /** Answers one DER OCSPRequest; never throws (an internal failure is `internalError`). */
  async respond(request: Uint8Array): Promise<OcspAnswer> {
    const now = this.#o.now();
    // Request bytes seen before (never with a nonce: one makes every request unique): the answer to their CertID.
    const bytes = request.length <= MAX_REMEMBERED_REQUEST_BYTES ? Buffer.from(request).toString('hex') : undefined;
    const seen = bytes === undefined ? undefined : this.#requests.get(bytes);
    const known = seen === undefined ? undefined : this.#answerFor(seen, now);
    if (known !== undefined) return fromCache(known);
    const parsed = parseOcspRequest(request);
    if (!parsed.ok) return refusal('malformedRequest', parsed.reason);
    const { certIds, nonce } = parsed.request;
    if (!certIds.some((id) => this.#ours(id))) return refusal('unauthorized', `no certificate of CA ${this.ca.id} asked about`);
    const single = certIds.length === 1 ? certIds[0]! : undefined;
    // Cached per CertID, for a request without nonce about one certificate: its extensions decide nothing.
    const slot = single !== undefined && nonce === undefined ? slotOf(single) : undefined;
    const cached = slot === undefined ? undefined : this.#answerFor(slot, now);
    if (slot !== undefined && cached !== undefined) {
      this.#rememberRequest(bytes, slot);
      return fromCache(cached);
    }
    // With a nonce: the status another request about the same CertID left in the cache, signed afresh.
    const hit =
      single === undefined
        ? undefined
        : [...(this.#bySerial.get(single.serialNumber) ?? [])].map((k) => this.#cache.get(k)).find((e) => this.#fresh(e, now));
    const generation = this.#generation;
    if (this.#unsettled.size > 0 && !this.#o.reads.uncommittedPkiWrites()) this.#unsettled.clear();
    // Read while its change may be uncommitted: not cached even if that change commits (and another answer empties
    // `#unsettled`) before this one is signed, since what was read may predate it.
    const readUnsettled = single !== undefined && this.#unsettled.has(single.serialNumber);
    try {
      // Committed state only: a revocation in a batch that may still roll back is not answered (pki-committed.ts).
      // Nor an incomplete one (a rebuild, a catch-up behind): a certificate may be back there before its revocation
      // (`tryLater`, RFC 6960 2.3).
      let statuses: CertStatus[];
      let uncacheable = false;
      if (hit !== undefined) statuses = certIds.map(() => hit.status);
      else {
        const toRecord: PublishedRevocation[] = [];
        const read = await readCompletePki(this.#o.reads, this.#o.mustReach, (db) => certIds.map((id) => this.#status(db, id, now, toRecord)));
        if (!read.ok) return refusal('tryLater', read.incomplete.message);
        statuses = read.value;
        // Unrecorded (a full disk), the truth is still told: `tryLater` is taken as good by soft-fail relying parties,
        // a sure harm now against one that needs a restore as well. Not cached, so the next request records it.
        if (!this.#recorded(toRecord)) uncacheable = true;
      }
      const producedAt = Math.floor(now / 1000) * 1000;
      const nextUpdate = producedAt + this.#validityMs;
      const credential = this.#o.credential();
      const der = await signedOcspResponse(
        {
          responderKeyHash: credential.keyHash,
          producedAt,
          responses: certIds.map((id, i) => ({ certId: id.der, status: statuses[i]!, thisUpdate: producedAt, nextUpdate })),
          ...(nonce !== undefined ? { nonce } : {}),
        },
        credential,
      );
      // `unknown` is not kept, here or by HTTP caches: the certificate may be issued a moment later (a device asked
      // about before the read model projected its issuance), and no notice drops a cached answer then.
      const cacheable = single !== undefined && nonce === undefined && statuses[0]!.status !== 'unknown';
      if (cacheable && !uncacheable && slot !== undefined && generation === this.#generation && !readUnsettled && !this.#unsettled.has(single.serialNumber)) {
        this.#remember(slot.key, { status: statuses[0]!, der, producedAt, nextUpdate, serialNumber: single.serialNumber, certId: slot.certId }, now);
        this.#rememberRequest(bytes, slot);
      }
      // An answer whose revocation could not be recorded is asked again, not kept by HTTP caches either.
      return { der, outcome: 'successful', cacheable: cacheable && !uncacheable, producedAt, nextUpdate };
    } catch (error) {
      this.#o.onError?.(error);
      return refusal('internalError', error instanceof Error ? error.message : String(error));
    }
  }
}

const fromCache = (known: Cached): OcspAnswer => ({
  der: known.der,
  outcome: 'successful',
  cacheable: true,
  producedAt: known.producedAt,
  nextUpdate: known.nextUpdate,
});

const refusal = (status: OcspErrorStatus, reason: string): OcspAnswer => ({ der: ocspErrorResponseDer(status), outcome: status, reason, cacheable: false });
