import type Database from 'better-sqlite3';
import { constantTimeEqual } from '../../domain/crypto/index.ts';
import { certificateSummary } from '../../domain/x509/issuance/index.ts';
import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';
import {
  parseOcspRequest,
  revocationIssuer,
  signedOcspResponse,
  type CertStatus,
  type OcspCertId,
  type RevocationIssuer,
} from '../../domain/x509/revocation/index.ts';
import { certificateStanding, holderEnded, overlapEndOfCertificate } from '../../projections/pki/index.ts';
import { raises, type PublishedRevocation } from '../driven/pki/published-revocations.ts';
import { FailureRun } from './pki-published.ts';
import { readCompletePki } from './pki-complete.ts';
import { chainEndOf } from './pki-ended-cas.ts';
import { fromCache, refusal, type OcspAnswer } from './pki-ocsp-answer.ts';
import { MAX_REMEMBERED_REQUEST_BYTES, OcspAnswerCache, slotOf, type OcspCacheSize } from './pki-ocsp-cache.ts';
import { DEFAULT_OCSP_VALIDITY_MS, type OcspResponderOptions } from './pki-ocsp-responder-options.ts';

/**
 * The OCSP responder of one issuing CA (RFC 6960): answers good, revoked (time, reason, invalidity date) or unknown
 * from the `pki` read model, signed by the CA's delegated responder. Answers without a nonce are cached per CertID
 * and dropped when the certificate is revoked (`invalidate`, called as the projection records it); a request with a
 * nonce (RFC 8954) gets the cached status signed afresh with the nonce echoed. A CertID naming another issuer is
 * answered `unknown`; a request naming none of this CA's certificates is `unauthorized` (RFC 6960 2.3).
 */
export class OcspResponder {
  readonly ca: IssuingCa;
  readonly #o: OcspResponderOptions;
  readonly #issuer: RevocationIssuer;
  /** The CA's current key as the certificates it signs name it (their authorityKeyIdentifier), lower-case hex. */
  readonly #keyId: string;
  readonly #validityMs: number;
  /** When the CA's chain ends (pki-ended-cas.ts): no answer is valid past it. */
  readonly #chainEnd: number;
  /** Answers signed without nonce, by CertID (pki-ocsp-cache.ts). */
  readonly #answers: OcspAnswerCache;
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
    this.#keyId = Buffer.from(this.#issuer.keyIdentifier).toString('hex');
    this.#validityMs = options.validityMs ?? DEFAULT_OCSP_VALIDITY_MS;
    this.#chainEnd = chainEndOf(options.ca);
    const maxCached = options.maxCached ?? 100_000;
    if (!Number.isSafeInteger(this.#validityMs) || this.#validityMs < 4000) throw new RangeError('validityMs: must be a whole number of ms >= 4000');
    this.#answers = new OcspAnswerCache(this.#validityMs, maxCached);
  }

  /** The certificate `serialNumber` changed status: cached answers about it are dropped. */
  invalidate(serialNumber: string): void {
    this.#generation++;
    if (this.#o.reads.uncommittedPkiWrites()) this.#unsettled.add(serialNumber);
    this.#answers.forgetSerial(serialNumber);
  }

  /** Serials whose change may still be uncommitted (answers about them are not cached): for tests and metrics. */
  get unsettled(): number {
    return this.#unsettled.size;
  }

  /** What the cache holds (read-only): for tests and metrics. */
  get cacheSize(): OcspCacheSize {
    return this.#answers.size;
  }

  /** Everything changed (a rebuild of the read model, a new responder certificate). */
  clear(): void {
    this.#generation++;
    this.#answers.clear();
  }

  /** The serial of the current responder certificate, lower-case hex, read once per certificate (it changes at renewal). */
  #responderSerial(): string {
    const { certificate } = this.#o.credential();
    if (this.#responder?.certificate !== certificate) this.#responder = { certificate, serialNumber: certificateSummary(certificate, this.ca.id).serialNumber };
    return this.#responder.serialNumber;
  }

  #responder: { readonly certificate: Uint8Array; readonly serialNumber: string } | undefined;

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
    // By the key that signed the certificate, not only the CA id: a CA made again under the same id (its key
    // compromised) must not answer `good` for what the old key signed (review 127; `unknown`, RFC 6960 2.2). Before
    // the published revocations, which are kept by CA id and may be the old CA's.
    const standing = certificateStanding(db, this.ca.id, id.serialNumber, this.#keyId);
    if (standing.status === 'unknown' && standing.anotherKey === true) return { status: 'unknown' };
    // What a CRL listed stands, as the CRLs keep it: its first time, reason and invalidity date (none for one an
    // earlier version published back-dated), even when the log lost it (a restore) or holds a later revocation of the
    // same certificate.
    const published = this.#o.published?.get(id.serialNumber);
    if (published !== undefined) {
      // But for its reason's raise to keyCompromise (RFC 5280 5.3.1), recorded before it is answered, as the CRLs do.
      if (standing.status !== 'revoked' || !raises(published, standing)) return revokedStatus(published);
      const raised = { ...published, reason: 'keyCompromise' as const };
      toRecord.push(raised);
      return revokedStatus(raised);
    }
    switch (standing.status) {
      case 'revoked':
        // A `revoked` a relying party saw must survive a restore of the event log, as a CRL entry does: recorded before
        // it is signed. Not for a certificate past its notAfter: its entry leaves the CRLs, nothing can make it valid.
        if (Date.parse(standing.notAfter) > now) {
          const { credentialId, revokedAt, reason, notAfter, invalidSince } = standing;
          toRecord.push({ serialNumber: id.serialNumber, credentialId, revokedAt, reason, notAfter, ...(invalidSince !== undefined ? { invalidSince } : {}) });
        }
        return revokedStatus(standing);
      case 'good':
        return { status: 'good' };
      case 'unknown':
        // The responder's own certificate: the CA issued it, outside the events (review 306). It carries
        // id-pkix-ocsp-nocheck and is never revoked, so `good`, not `unknown`. Only the current one: a replaced one's
        // certificate is not kept (<ca>.ocsp.json keeps its key, to destroy).
        return standing.anotherKey !== true && this.#responderSerial() === id.serialNumber ? { status: 'good' } : { status: 'unknown' };
      default: {
        const never: never = standing;
        throw new TypeError(`unknown standing ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * `#status`, with the end of the overlap of a rotation under way of a `good` certificate's credential, read in the
   * same transaction (review 221). Only `good` is capped: `revoked` and `unknown` say nothing a handover changes.
   */
  #answered(db: Database.Database, id: OcspCertId, now: number, toRecord: PublishedRevocation[]): Answered {
    const status = this.#status(db, id, now, toRecord);
    if (status.status !== 'good') return { status };
    // Its node, App-ID or bootstrap ended, its own revocation not recorded yet (the cascade's to come, review 306): no
    // `good`, pending as a handover past its overlap is.
    if (holderEnded(db, this.ca.id, id.serialNumber, new Date(now).toISOString())) return { status, holderEnded: true };
    const overlapEndsAt = overlapEndOfCertificate(db, this.ca.id, id.serialNumber);
    return overlapEndsAt === undefined ? { status } : { status, overlapEndsAt };
  }

  /**
   * Records `revocations` in the ledger (synced) unless it holds them. A failed write is reported once per run of
   * failures and returns false.
   */
  #recorded(revocations: readonly PublishedRevocation[]): boolean {
    const ledger = this.#o.published;
    // Nothing to write (the usual case) is not a write that succeeded: it must not end a run of reported failures.
    const kept = (r: PublishedRevocation): boolean => {
      const first = ledger?.get(r.serialNumber);
      return first !== undefined && !raises(first, r);
    };
    if (ledger === undefined || revocations.every(kept)) return true;
    return ledger.recordOrReport(revocations, this.#unrecorded, this.#o) === undefined;
  }

  /**
   * Whether the last write to the ledger failed: reported once, not at every request while the disk stays full, and
   * its end once, at the next write that succeeds.
   */
  readonly #unrecorded = new FailureRun('ocspPublication');

  /**
   * Whether the last answer this responder tried to sign failed (`internalError`: its key's token removed, say, or a
   * read that threw). Its cause is reported once per run of failures, as the ledger's (`#unrecorded`): any relying
   * party asks as often as the rate limit lets it, and each report is an error with a stack (review 276). The run ends
   * at the next answer signed, said once (`onRecovered`) for an operator who saw the error; one served from the cache
   * signs nothing and ends none. The route counts the answers.
   */
  readonly #unsigned = new FailureRun('ocspSigning');

  /**
   * Each SingleResponse of an answer produced at `producedAt` and signed with the responder certificate `responder`,
   * and the answer's nextUpdate (the earliest of theirs, as Expires is one). Valid for the validity after it, but no
   * later than that certificate or any above it ends (review 124: an answer, and the Expires caches keep it by,
   * outlived both). A relying party caching until nextUpdate (RFC 5019 6.2) would keep an answer its signer no longer
   * vouches for, as a CRL past its CA (pki-crl-times.ts). Nor later than the end of the overlap of a rotation under way
   * of a `good` certificate's credential (`overlapEndsAt`, review 221): the service refuses the credential from then
   * and dates its revocation there (its invalidityDate), so a `good` kept past it (stapled, or cached until nextUpdate)
   * would vouch for what the service no longer accepts. Valid for no time at all, no answer is signed: past the CA's
   * chain the responder cannot answer authoritatively (`unauthorized`, as the route answers a CA retired; RFC 6960
   * 2.3); past its own certificate only (not renewed in time), `tryLater`: the renewal is on its way.
   */
  #singles(producedAt: number, responder: Uint8Array, answers: readonly Answered[]): { singles: Single[]; nextUpdate: number } | OcspAnswer {
    // In whole seconds, as the answer writes them (time.ts): an end within a second counts to its second.
    const signerEnd = chainEndOf({ certificate: responder, chain: [this.ca.certificate, ...this.ca.chain] });
    const valid = Math.min(producedAt + this.#validityMs, Math.floor(signerEnd / 1000) * 1000);
    if (valid <= producedAt) {
      if (Math.floor(this.#chainEnd / 1000) * 1000 <= producedAt) return refusal('unauthorized', `CA ${this.ca.id} ended at ${new Date(this.#chainEnd).toISOString()}`);
      return refusal('tryLater', `CA ${this.ca.id}: its OCSP responder certificate ended at ${new Date(signerEnd).toISOString()} and is not renewed yet`);
    }
    const handover = (a: Answered): number => (a.overlapEndsAt === undefined ? Infinity : Math.floor(a.overlapEndsAt / 1000) * 1000);
    // Past its overlap, the handover's revocation not recorded yet: no `good` can be signed for it, nor `revoked`
    // yet. Only when that is every certificate asked about is the whole answer `tryLater` (review 222): one of them
    // must not hide the others, a `revoked` above all, since soft-failing relying parties take `tryLater` as good.
    // Likewise one whose node, App-ID or bootstrap ended, the cascade's revocation of it not recorded yet (review 306).
    const pending = (a: Answered): boolean => a.holderEnded === true || handover(a) <= producedAt;
    if (answers.every(pending)) {
      const ended = earliest(answers.map((a) => a.overlapEndsAt));
      return refusal(
        'tryLater',
        ended === undefined
          ? `CA ${this.ca.id}: the node, App-ID or bootstrap credential a certificate asked about follows was revoked, its own revocation is not recorded yet`
          : `CA ${this.ca.id}: the overlap of a rotation of a certificate asked about ended at ${new Date(ended).toISOString()}, its revocation is not recorded yet`,
      );
    }
    // One nextUpdate for every certificate answered (the earliest end), as when each was capped alike.
    const nextUpdate = Math.min(valid, ...answers.filter((a) => !pending(a)).map(handover));
    // A pending one is `unknown` (RFC 6960 2.2: its status cannot be told now), with a nextUpdate (an RFC 5019
    // client refuses an answer without one) one second on, the least a time in whole seconds says: asked again, it is
    // `revoked` once the handover's revocation is recorded.
    // An `unknown` too (review 247): its certificate may be issued a moment later (asked about before the read model
    // projected its issuance), and a relying party that keeps an answer by its nextUpdate (a stapling server) would
    // keep this one as long as a `good`.
    const singles = answers.map((a): Single =>
      pending(a)
        ? { status: { status: 'unknown' }, nextUpdate: producedAt + 1000, pending: true }
        : { status: a.status, nextUpdate: a.status.status === 'unknown' ? producedAt + 1000 : nextUpdate },
    );
    return { singles, nextUpdate: Math.min(...singles.map((s) => s.nextUpdate)) };
  }

  /** Answers one DER OCSPRequest; never throws (an internal failure is `internalError`). */
  async respond(request: Uint8Array): Promise<OcspAnswer> {
    const now = this.#o.now();
    // Request bytes seen before (never with a nonce: one makes every request unique): the answer to their CertID.
    const bytes = request.length <= MAX_REMEMBERED_REQUEST_BYTES ? Buffer.from(request).toString('hex') : undefined;
    const seen = bytes === undefined ? undefined : this.#answers.requestSlot(bytes);
    const known = seen === undefined ? undefined : this.#answers.answerFor(seen, now);
    if (known !== undefined) return fromCache(known);
    const parsed = parseOcspRequest(request);
    if (!parsed.ok) return refusal('malformedRequest', parsed.reason);
    const { certIds, nonce } = parsed.request;
    if (!certIds.some((id) => this.#ours(id))) return refusal('unauthorized', `no certificate of CA ${this.ca.id} asked about`);
    const single = certIds.length === 1 ? certIds[0]! : undefined;
    // Cached per CertID, for a request without nonce about one certificate: its extensions decide nothing.
    const slot = single !== undefined && nonce === undefined ? slotOf(single) : undefined;
    const cached = slot === undefined ? undefined : this.#answers.answerFor(slot, now);
    if (slot !== undefined && cached !== undefined) {
      this.#answers.rememberRequest(bytes, slot);
      return fromCache(cached);
    }
    // With a nonce: the status another request about the same CertID left in the cache, signed afresh.
    const hit =
      single === undefined
        ? undefined
        : this.#answers.freshAbout(single.serialNumber, now);
    const generation = this.#generation;
    if (this.#unsettled.size > 0 && !this.#o.reads.uncommittedPkiWrites()) this.#unsettled.clear();
    // Read while its change may be uncommitted: not cached even if that change commits (and another answer empties
    // `#unsettled`) before this one is signed, since what was read may predate it.
    const readUnsettled = single !== undefined && this.#unsettled.has(single.serialNumber);
    try {
      // Committed state only: a revocation in a batch that may still roll back is not answered (pki-committed.ts).
      // Nor an incomplete one (a rebuild, a catch-up behind): a certificate may be back there before its revocation
      // (`tryLater`, RFC 6960 2.3).
      let answers: readonly Answered[];
      let uncacheable = false;
      if (hit !== undefined) {
        answers = certIds.map(() => (hit.overlapEndsAt === undefined ? { status: hit.status } : { status: hit.status, overlapEndsAt: hit.overlapEndsAt }));
      } else {
        const toRecord: PublishedRevocation[] = [];
        const read = await readCompletePki(this.#o.reads, this.#o.mustReach, (db) => certIds.map((id) => this.#answered(db, id, now, toRecord)));
        if (!read.ok) return refusal('tryLater', read.incomplete.message);
        answers = read.value;
        // Unrecorded (a full disk), the truth is still told: `tryLater` is taken as good by soft-fail relying parties,
        // a sure harm now against one that needs a restore as well. Not cached, so the next request records it.
        if (!this.#recorded(toRecord)) uncacheable = true;
      }
      const producedAt = Math.floor(now / 1000) * 1000;
      const credential = this.#o.credential();
      const answered = this.#singles(producedAt, credential.certificate, answers);
      if (!('singles' in answered)) return answered;
      const { singles, nextUpdate } = answered;
      const der = await signedOcspResponse(
        {
          responderKeyHash: credential.keyHash,
          producedAt,
          responses: certIds.map((id, i) => ({ certId: id.der, status: singles[i]!.status, thisUpdate: producedAt, nextUpdate: singles[i]!.nextUpdate })),
          ...(nonce !== undefined ? { nonce } : {}),
        },
        credential,
      );
      this.#unsigned.succeeded(this.#o);
      // `unknown` is not kept, here or by HTTP caches: the certificate may be issued a moment later (a device asked
      // about before the read model projected its issuance), and no notice drops a cached answer then. Nor an answer
      // about a certificate pending its handover: it says `revoked` once that is recorded.
      const cacheable = single !== undefined && nonce === undefined && singles[0]!.status.status !== 'unknown' && !singles.some((s) => s.pending === true);
      if (cacheable && !uncacheable && slot !== undefined && generation === this.#generation && !readUnsettled && !this.#unsettled.has(single.serialNumber)) {
        const overlapEndsAt = answers[0]!.overlapEndsAt;
        const until = overlapEndsAt !== undefined ? { overlapEndsAt } : {};
        this.#answers.remember(slot.key, { status: singles[0]!.status, der, producedAt, nextUpdate, ...until, serialNumber: single.serialNumber, certId: slot.certId }, now);
        this.#answers.rememberRequest(bytes, slot);
      }
      // An answer whose revocation could not be recorded is asked again, not kept by HTTP caches either.
      return { der, outcome: 'successful', cacheable: cacheable && !uncacheable, producedAt, nextUpdate };
    } catch (error) {
      this.#unsigned.failed(error, this.#o);
      return refusal('internalError', error instanceof Error ? error.message : String(error));
    }
  }
}

/**
 * A certificate's status as read, and the end of the overlap of its credential's rotation under way, if `good`;
 * `holderEnded` when `good` but what it follows has ended, its revocation owed (review 306).
 */
interface Answered {
  readonly status: CertStatus;
  readonly overlapEndsAt?: number;
  readonly holderEnded?: true;
}

/** A SingleResponse as signed; `pending` when its certificate is past its overlap, the handover not recorded. */
interface Single {
  readonly status: CertStatus;
  readonly nextUpdate: number;
  readonly pending?: true;
}

const earliest = (ends: readonly (number | undefined)[]): number | undefined =>
  ends.reduce<number | undefined>((min, end) => (end === undefined || (min !== undefined && min <= end) ? min : end), undefined);

/**
 * `revoked` from a published record or the read model's standing: revocationTime when it was recorded, the earlier
 * instant the certificate became invalid (if any) as the invalidityDate singleExtension (RFC 6960 4.4), as on the CRL.
 */
const revokedStatus = (r: { readonly revokedAt: string; readonly reason: PublishedRevocation['reason']; readonly invalidSince?: string }): CertStatus => ({
  status: 'revoked',
  revokedAt: Date.parse(r.revokedAt),
  reason: r.reason,
  ...(r.invalidSince !== undefined ? { invalidSince: Date.parse(r.invalidSince) } : {}),
});
