import { toHex } from '../../domain/crypto/index.ts';
import type { CertStatus, OcspCertId } from '../../domain/x509/revocation/index.ts';

/** A signed answer kept for the CertID it answers. */
export interface CachedOcspAnswer {
  readonly status: CertStatus;
  readonly der: Uint8Array;
  readonly producedAt: number;
  readonly nextUpdate: number;
  /**
   * The end of the overlap of the rotation under way of the certificate's credential, when one was (review 221): an
   * answer signed afresh from this one's status (a nonce's) is valid no later either.
   */
  readonly overlapEndsAt?: number;
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

/**
 * Answers kept per certificate: one per hash algorithm a CertID naming this CA may use (sha1, sha256, sha384, sha512).
 * A backstop: the key admits no more for a certificate of ours.
 */
export const MAX_CACHED_PER_SERIAL = 4;
/** Request bytes remembered (the newest): a hit costs a lookup instead of a parse (~2 us against several hundred). */
export const MAX_REMEMBERED_OCSP_REQUESTS = 1024;
/** Longer requests are not remembered: one without nonce about one certificate is 80 to 250 bytes. */
export const MAX_REMEMBERED_REQUEST_BYTES = 512;
/**
 * A CertID longer than this is answered but its answer not cached: a SHA-512 one with a 20-octet serial is about
 * 180 bytes, and the answer echoes the CertID (hash algorithm parameters are the sender's, up to the request's 16 KiB).
 */
const MAX_CACHED_CERT_ID_BYTES = 256;

/** Where the answer about one CertID is cached, and the CertID bytes it must carry to be served. */
export interface OcspSlot {
  readonly key: string;
  readonly certId: Uint8Array;
}

/**
 * The cache key of a CertID: what decides its answer (RFC 6960 4.1.1: hash algorithm, issuer name and key hashes,
 * serial), never the request's other bytes, so requests differing only in extensions share one entry. Bounded:
 * an answer is cached only for a CertID naming this CA (fixed-length hashes) and one of its serials.
 */
export const slotOf = (id: OcspCertId): OcspSlot | undefined =>
  id.hash === undefined || id.der.length > MAX_CACHED_CERT_ID_BYTES
    ? undefined
    : { key: `${id.hash}:${toHex(id.issuerNameHash)}:${toHex(id.issuerKeyHash)}:${id.serialNumber}`, certId: id.der };

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a === b || Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

/** The answers an OcspResponder signed without nonce, by CertID, and the request bytes that asked for them. */
export class OcspAnswerCache {
  readonly #validityMs: number;
  readonly #maxCached: number;
  /**
   * Answers by CertID (`slotOf`), oldest first (Map order is insertion order and an answer replaced is inserted
   * anew). `#bySerial` finds a certificate's entries when it is revoked, and bounds them.
   */
  readonly #cache = new Map<string, CachedOcspAnswer>();
  readonly #bySerial = new Map<string, Set<string>>();
  /**
   * Request bytes without nonce (hex, at most MAX_REMEMBERED_REQUEST_BYTES) and the CertID they parse to: answered
   * from `#cache` without being parsed. At most MAX_REMEMBERED_OCSP_REQUESTS, the oldest go first; the bytes decide
   * the parse, so an entry never goes stale, and one whose answer was dropped finds none.
   */
  readonly #requests = new Map<string, OcspSlot>();

  constructor(validityMs: number, maxCached: number) {
    this.#validityMs = validityMs;
    this.#maxCached = maxCached;
  }

  get size(): OcspCacheSize {
    return { answers: this.#cache.size, serials: this.#bySerial.size, requests: this.#requests.size };
  }

  clear(): void {
    this.#cache.clear();
    this.#bySerial.clear();
    this.#requests.clear();
  }

  /** Drops every answer about the certificate `serialNumber`. */
  forgetSerial(serialNumber: string): void {
    for (const key of this.#bySerial.get(serialNumber) ?? []) this.#forget(key);
  }

  /** The CertID request bytes (hex) seen before asked about. */
  requestSlot(request: string): OcspSlot | undefined {
    return this.#requests.get(request);
  }

  /** A fresh answer about the certificate `serialNumber`, whatever CertID it was asked by. */
  freshAbout(serialNumber: string, now: number): CachedOcspAnswer | undefined {
    return [...(this.#bySerial.get(serialNumber) ?? [])].map((k) => this.#cache.get(k)).find((e) => this.#fresh(e, now));
  }

  /**
   * Served from the cache for a quarter of its validity, well before its nextUpdate; never past that nextUpdate, which
   * the end of the responder certificate or of the CA's chain may bring sooner (review 124). Nor when it was produced
   * after now (review 270): signed on a clock that ran ahead and has been stepped back, it would be served, its
   * producedAt, thisUpdate and HTTP dates still to come ("not yet valid" to relying parties), for the step plus that
   * quarter; signed again instead, on the clock as it is, as the CRLs are (review 251).
   */
  #fresh(entry: CachedOcspAnswer | undefined, now: number): boolean {
    return entry !== undefined && entry.producedAt <= now && now < Math.min(entry.producedAt + this.#validityMs / 4, entry.nextUpdate);
  }

  /** The cached answer to a request without nonce asking about `certId` only, if it is fresh and carries that CertID. */
  answerFor(slot: OcspSlot, now: number): CachedOcspAnswer | undefined {
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

  rememberRequest(request: string | undefined, slot: OcspSlot): void {
    if (request === undefined) return;
    this.#requests.delete(request);
    this.#requests.set(request, slot);
    for (const oldest of this.#requests.keys()) {
      if (this.#requests.size <= MAX_REMEMBERED_OCSP_REQUESTS) break;
      this.#requests.delete(oldest);
    }
  }

  remember(key: string, entry: CachedOcspAnswer, now: number): void {
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
}
