import type Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { openCredence, openDataFolderSecureEnvironment, startPkiRevocation, systemClock, systemRandom, type Credence, type PkiRevocation } from '../adapters/runtime/index.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { command } from '../domain/commands/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import type { DecodedEvent } from '../domain/stored.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { serialOctets } from '../domain/x509/revocation/index.ts';
import { PkiChanges, PKI_PROJECTION, pkiProjection } from '../projections/pki/index.ts';
import { ProjectionRunner, type Projection } from '../projections/runtime/index.ts';
import { operator } from './support/fleet.ts';
import { issueCertifiedCredentialWith, testCa } from './support/pki-test-ca.ts';
import { ocspRequest, ocspStatus, includesBytes } from './support/ocsp-client.ts';

const BASE_URL = 'http://127.0.0.1:9';

/** A gate a projection's reaction waits at, with its transaction open: `reached` once it waits, `open()` lets it go. */
interface Gate {
  readonly reached: Promise<void>;
  open(): void;
}

/**
 * One test instance: an in-memory event store, a read model of its own (a WAL file, or memory) driven by a runner
 * the test controls, the `pki` projection (optionally run with a gated reaction, so its batch stays open after a
 * revocation was applied), and a second projection with a gated reaction (the cascade's shape: a batch open across
 * awaits on the same connection, writing other tables).
 */
const instance = async (location: 'file' | 'memory', pkiGated: boolean) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-pki-no-wait-'));
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
  const credence: Credence = openCredence({ location: { memory: true }, clock: systemClock });
  const plain = await testCa('default', 'p256');
  const signed: Uint8Array[] = [];
  const ca: IssuingCa = { ...plain, signer: { ...plain.signer, sign: (tbs) => (signed.push(tbs), plain.signer.sign(tbs)) } };
  const db: Database.Database = openReadModels(location === 'file' ? { dir } : { memory: true });
  let gate: { at: (e: DecodedEvent) => boolean; reached: () => void; open: Promise<void> } | undefined;
  const holdAt = (at: (e: DecodedEvent) => boolean): Gate => {
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => (reached = resolve));
    let open!: () => void;
    gate = { at, reached, open: new Promise<void>((resolve) => (open = resolve)) };
    return { reached: atGate, open: () => (open(), (gate = undefined)) };
  };
  const gated = async (e: DecodedEvent) => {
    const g = gate;
    if (g !== undefined && g.at(e)) {
      g.reached();
      await g.open;
    }
  };
  const changes = new PkiChanges();
  const pki = pkiProjection(changes);
  const projections: Projection[] = [
    pkiGated ? { ...pki, react: gated } : pki,
    {
      name: 'other-with-reactions',
      eventTypes: ['CredentialIssued'],
      setup: (d) => d.exec('CREATE TABLE IF NOT EXISTS other_rows (credential_id TEXT PRIMARY KEY)'),
      reset: (d) => d.exec('DELETE FROM other_rows'),
      react: gated,
      apply: (d, e) => void d.prepare('INSERT OR IGNORE INTO other_rows VALUES (?)').run((e.event.data as { credentialId: string }).credentialId),
    },
  ];
  const runner = new ProjectionRunner({ db, store: credence.store, projections });
  const revocation: PkiRevocation = await startPkiRevocation({
    credence: { store: credence.store, readModels: db, pkiChanges: changes },
    cas: [ca],
    baseUrl: BASE_URL,
    se: ownerView(se, 'maf:infrastructure'),
    random: systemRandom,
    now: () => Date.now(),
    tickMs: 3_600_000,
  });
  return {
    credence,
    ca,
    db,
    runner,
    signed,
    holdAt,
    publisher: revocation.crl('default')!,
    responder: revocation.ocsp('default')!,
    async close() {
      gate = undefined;
      revocation.stop();
      await credence.close();
      db.close();
      se.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

const revoke = (credence: Credence, credentialId: string) =>
  credence.engine.execute(command('revokeCredential', { credentialId, reason: 'keyCompromise' }, { actor: operator }));

describe('committed reads of the pki read model do not wait for an open projection batch (issue 13, left)', () => {
  let opened: Awaited<ReturnType<typeof instance>> | undefined;
  afterEach(async () => {
    await opened?.close();
    opened = undefined;
  });

  it('a read model in a file is read through a second, read-only connection that sees the last commit', async () => {
    const t = (opened = await instance('file', false));
    const reads = openCommittedReadModel(t.db);
    try {
      expect(reads.mode).toBe('snapshot');
      await expect(reads.read((db) => db.prepare('DELETE FROM pki_revocations').run())).rejects.toThrow(/readonly/i);
    } finally {
      reads.close();
    }
    await expect(reads.read(() => 1)).rejects.toThrow(/closed/);
    const memory = openReadModels({ memory: true });
    try {
      expect(openCommittedReadModel(memory).mode).toBe('shared');
    } finally {
      memory.close();
    }
  }, 60_000);

  for (const location of ['file', 'memory'] as const) {
    it(`answers OCSP and serves CRLs while another projection's batch is held open (${location} read model)`, async () => {
      const t = (opened = await instance(location, false));
      const leaf = await issueCertifiedCredentialWith(t.credence, t.ca, BASE_URL, 'cred-1');
      await revoke(t.credence, 'cred-1');
      await t.runner.catchUp();
      // The other projection's batch, open across its reaction's await, on the same connection.
      await issueCertifiedCredentialWith(t.credence, t.ca, BASE_URL, 'cred-2');
      const gate = t.holdAt((e) => e.event.type === 'CredentialIssued' && e.event.data.credentialId === 'cred-2');
      const held = t.runner.catchUp('other-with-reactions');
      await gate.reached;
      expect(t.db.inTransaction).toBe(true);
      // Uncached (first question about it): answered from committed state while the batch is still open.
      const answer = await t.responder.respond(await ocspRequest(leaf, t.ca));
      const full = await t.publisher.full();
      expect(t.db.inTransaction).toBe(true);
      expect(ocspStatus(answer.der)).toBe('revoked');
      expect(includesBytes(full.der, serialOctets(leaf.serialNumber))).toBe(true);
      gate.open();
      await held;
    }, 60_000);
  }

  it('in a file, an OCSP answer during a batch holding an uncommitted revocation comes back at once, says good, and is not cached', async () => {
    const t = (opened = await instance('file', true));
    const leaf = await issueCertifiedCredentialWith(t.credence, t.ca, BASE_URL, 'cred-revoked');
    await t.runner.catchUp(PKI_PROJECTION);
    const request = await ocspRequest(leaf, t.ca);
    expect(ocspStatus((await t.responder.respond(request)).der)).toBe('good');
    const serial = serialOctets(leaf.serialNumber);
    t.signed.length = 0;

    await revoke(t.credence, 'cred-revoked');
    await issueCertifiedCredentialWith(t.credence, t.ca, BASE_URL, 'cred-later');
    // The pki batch stops at the event after the revocation: the revocation is applied, the transaction open.
    const gate = t.holdAt((e) => e.event.type === 'CredentialIssued' && e.event.data.credentialId === 'cred-later');
    const held = t.runner.catchUp(PKI_PROJECTION);
    await gate.reached;
    const during = await t.responder.respond(request);
    const fullDuring = await t.publisher.full();
    const deltaDuring = await t.publisher.delta();
    // All three came back while the batch was still open, without its uncommitted revocation.
    expect(t.db.inTransaction).toBe(true);
    expect(ocspStatus(during.der)).toBe('good');
    expect(includesBytes(fullDuring.der, serial)).toBe(false);
    expect(includesBytes(deltaDuring.der, serial)).toBe(false);
    expect(t.signed.some((tbs) => includesBytes(tbs, serial))).toBe(false);

    gate.open();
    await held;
    // Committed: the `good` read during the batch was not cached, the notice's delta lists it without a fetch.
    expect(ocspStatus((await t.responder.respond(request)).der)).toBe('revoked');
    await vi.waitFor(() => expect(t.signed.some((tbs) => includesBytes(tbs, serial))).toBe(true), { timeout: 30_000, interval: 20 });
    expect(includesBytes((await t.publisher.delta()).der, serial)).toBe(true);
    expect(includesBytes((await t.publisher.full()).der, serial)).toBe(true);
  }, 60_000);
});
