import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { lockDataFolder, SERVICE_LOCK_FILE, type Credence, type DataFolderLock, type PkiRevocation } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { dataFolderPki, PKI_TEST_URL, serialsOf } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa } from './support/pki-test-ca.ts';

/*
 * `credence query` on a local data folder brings the read models up to the head of the store before it queries
 * them. Beside a running service that wrote into the service's own read models: a revocation the query projected
 * first was never projected by the service, whose runner found its checkpoint past it, so the service's OCSP cache
 * kept answering `good` for the revoked certificate and its CRLs did not list it. The folder's lock says a service
 * holds it: the query then reads the read models as the service keeps them and writes nothing.
 */

const checkpoints = (db: Database.Database): unknown[] => db.prepare('SELECT name, position FROM projection_checkpoints ORDER BY name').all();

describe('credence query on the data folder of a running service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-query-beside-service-'));
  const folder = dataFolderPki(dir);
  let credence: Credence | undefined;
  let pki: PkiRevocation | undefined;
  let lock: DataFolderLock | undefined;
  afterAll(async () => {
    lock?.release();
    pki?.stop();
    await credence?.close();
    folder.se.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes nothing there, so a revocation reaches the service: its OCSP answers and its CRL', async () => {
    const ca = await testCa('default', 'ed25519');
    // The instance plays `credence serve`: it holds the folder's lock and projects the store when it runs (settle).
    credence = folder.open();
    lock = lockDataFolder(dir);
    pki = await folder.start(credence, ca);
    const leaf = await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, 'cred-a');
    await credence.settle();
    const responder = pki.ocsp('default')!;
    // Answered, and cached, before the revocation.
    expect(ocspStatus((await responder.respond(await ocspRequest(leaf, ca))).der)).toBe('good');

    // Revoked; the service has not projected it yet (its live runtime follows the store a little behind).
    await credence.engine.execute(cmd.revokeCredential('cred-a', 'keyCompromise'));
    const before = checkpoints(credence.readModels);
    const queried = capture();
    expect(await main(['query', 'revocations', '--json', '--data', dir], queried.io), queried.err.join('\n')).toBe(0);
    const after = checkpoints(credence.readModels);

    // The service then projects the revocation itself: its OCSP answers and its CRL follow.
    await credence.settle();
    await pki.crl('default')!.settled();
    expect(ocspStatus((await responder.respond(await ocspRequest(leaf, ca))).der)).toBe('revoked');
    expect(serialsOf((await pki.crl('default')!.full()).der)).toEqual([leaf.serialNumber]);

    // The query read the read models as the service kept them (the revocation not in them yet), moved nothing, and
    // said why.
    expect(after).toEqual(before);
    expect(JSON.parse(queried.out.join('\n'))).toMatchObject({ rows: [], eventsBehind: 1 });
    // Found in review: an answer from read models another process keeps did not say how far behind they were (a
    // rebuild under way answered "0 rows" as if whole); it says so as an answer from --server does.
    expect(queried.err.join('\n')).toContain('note: the read models were 1 event(s) behind the store');
    expect(queried.err.join('\n')).toMatch(new RegExp(`in use by process ${process.pid} .*${SERVICE_LOCK_FILE}[\\s\\S]*as that process keeps them, without writing them`));
    expect(queried.err.join('\n')).not.toMatch(/stop that service first/);
    // The service's lock is left in place.
    expect(existsSync(join(dir, SERVICE_LOCK_FILE))).toBe(true);

    // Once the service is gone, the query brings the read models up to the head itself, holding the folder meanwhile.
    lock.release();
    lock = undefined;
    await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, 'cred-b');
    await credence.engine.execute(cmd.revokeCredential('cred-b', 'superseded'));
    const alone = capture();
    expect(await main(['query', 'revocations', '--json', '--data', dir], alone.io), alone.err.join('\n')).toBe(0);
    // The cascade (the service's to run) has not handled cred-b's revocation: its revocations to come are this query's
    // rows, so the answer counts it and says so (review 305); the read models themselves are at the head.
    expect(alone.err.join('\n')).toMatch(/^note: the revocation cascade has \d+ event\(s\) of the store still to handle/);
    expect(alone.err.join('\n')).not.toMatch(/the read models were/);
    const answer = JSON.parse(alone.out.join('\n')) as { rows: { id?: string }[]; eventsBehind: number };
    expect(answer.rows.map((r) => r.id)).toEqual(['cred-a', 'cred-b']);
    expect(answer.eventsBehind).toBeGreaterThan(0);
    expect(existsSync(join(dir, SERVICE_LOCK_FILE))).toBe(false);
  }, 60_000);
});
