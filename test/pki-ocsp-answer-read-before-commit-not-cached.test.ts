import type Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { openCredence, openDataFolderSecureEnvironment, systemClock, systemRandom, type Credence } from '../adapters/runtime/index.ts';
import { openCommittedReadModel, type CommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { command } from '../domain/commands/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import type { DecodedEvent } from '../domain/stored.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { PkiChanges, PKI_PROJECTION, pkiProjection } from '../projections/pki/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { operator } from './support/fleet.ts';
import { issueCertifiedCredentialWith, testCa, type TestLeaf } from './support/pki-test-ca.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';

const BASE_URL = 'http://127.0.0.1:9';

const revoke = (credence: Credence, credentialId: string) =>
  credence.engine.execute(command('revokeCredential', { credentialId, reason: 'keyCompromise' }, { actor: operator }));

/**
 * A read model in a WAL file read through the committed (snapshot) connection, the `pki` projection run by a runner
 * the test controls (optionally with a gated reaction, so its batch stays open after a revocation was applied), and
 * an OCSP responder whose signatures the test can hold (an answer read, not yet signed).
 */
interface PausePoint {
  /** Called where the work stops: resolves `reached`, then waits for `release()`. */
  readonly pause: () => Promise<void>;
  readonly reached: Promise<void>;
  readonly release: () => void;
}

const pausePoint = (): PausePoint => {
  let arrived!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (arrived = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return { reached, release, pause: () => (arrived(), released) };
};

const instance = async (pkiGated: boolean) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-ocsp-unsettled-'));
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
  const credence: Credence = openCredence({ location: { memory: true }, clock: systemClock });
  const ca: IssuingCa = await testCa('default', 'p256');
  const db: Database.Database = openReadModels({ dir });
  let gate: PausePoint | undefined;
  const holdPkiBatch = () => {
    const g = (gate = pausePoint());
    return { reached: g.reached, open: () => (g.release(), (gate = undefined)) };
  };
  const react = async (e: DecodedEvent) => {
    const g = gate;
    if (g !== undefined && e.event.type === 'CredentialIssued') await g.pause();
  };
  const changes = new PkiChanges();
  const pki = pkiProjection(changes);
  const runner = new ProjectionRunner({ db, store: credence.store, projections: [pkiGated ? { ...pki, react } : pki] });
  const reads: CommittedReadModel = openCommittedReadModel(db);
  const key = await OcspSigningKey.open({ se: ownerView(se, 'maf:infrastructure'), ca, random: systemRandom, now: () => Date.now() });
  let held: PausePoint | undefined;
  /** The next signature waits until `release()`; `reached` once it waits. */
  const holdNextSignature = () => {
    const h = (held = pausePoint());
    return { reached: h.reached, release: h.release };
  };
  const responder = new OcspResponder({
    reads,
    ca,
    now: () => Date.now(),
    credential: () => {
      const c = key.current;
      return {
        kind: c.kind,
        certificate: c.certificate,
        keyHash: c.keyHash,
        sign: async (tbs: Uint8Array) => {
          const h = held;
          held = undefined;
          if (h !== undefined) await h.pause();
          return c.sign(tbs);
        },
      };
    },
  });
  changes.subscribe({ revoked: ({ serialNumber }) => responder.invalidate(serialNumber), reset: () => responder.clear() });
  return {
    credence,
    ca,
    runner,
    responder,
    holdPkiBatch,
    holdNextSignature,
    async close() {
      gate = undefined;
      reads.close();
      await credence.close();
      db.close();
      se.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

describe('an OCSP answer read while its revocation was uncommitted is never cached (issue 13)', () => {
  let opened: Awaited<ReturnType<typeof instance>> | undefined;
  afterEach(async () => {
    await opened?.close();
    opened = undefined;
  });

  it('an answer read during the open batch and signed after the commit does not replace the revoked answer in the cache', async () => {
    const t = (opened = await instance(true));
    const leaf = await issueCertifiedCredentialWith(t.credence, t.ca, BASE_URL, 'cred-revoked');
    await t.runner.catchUp(PKI_PROJECTION);
    const request = await ocspRequest(leaf, t.ca);
    expect(ocspStatus((await t.responder.respond(request)).der)).toBe('good');

    await revoke(t.credence, 'cred-revoked');
    await issueCertifiedCredentialWith(t.credence, t.ca, BASE_URL, 'cred-later');
    // The pki batch stops at the event after the revocation: the revocation is applied, its transaction open.
    const batch = t.holdPkiBatch();
    const catchingUp = t.runner.catchUp(PKI_PROJECTION);
    await batch.reached;
    expect(t.responder.unsettled).toBe(1);
    // An answer read now (committed state: good), whose signature waits past the commit.
    const signature = t.holdNextSignature();
    const early = t.responder.respond(request);
    await signature.reached;
    batch.open();
    await catchingUp;
    // After the commit: revoked (and cached).
    expect(ocspStatus((await t.responder.respond(request)).der)).toBe('revoked');
    signature.release();
    expect(ocspStatus((await early).der)).toBe('good');
    // The early answer, signed last, did not replace the revoked one in the cache.
    expect(ocspStatus((await t.responder.respond(request)).der)).toBe('revoked');
  }, 60_000);

  it('revocations applied by the runner in its synchronous batches leave nothing unsettled, with no OCSP request between them', async () => {
    const t = (opened = await instance(false));
    const leaves: TestLeaf[] = [];
    for (const id of ['cred-1', 'cred-2', 'cred-3']) leaves.push(await issueCertifiedCredentialWith(t.credence, t.ca, BASE_URL, id));
    await t.runner.catchUp(PKI_PROJECTION);
    for (const id of ['cred-1', 'cred-2', 'cred-3']) {
      await revoke(t.credence, id);
      await t.runner.catchUp(PKI_PROJECTION);
    }
    expect(t.responder.unsettled).toBe(0);
    expect(ocspStatus((await t.responder.respond(await ocspRequest(leaves[0]!, t.ca))).der)).toBe('revoked');
  }, 60_000);
});
