import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { body, settled } from './http-conformance.fixtures.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review 95: leaf hashes take no key, so someone who rewrote events.db, recomputed its leaves in
 * transparency.db and deleted the checkpoints got `UNVERIFIED: not_signed_yet` from `verify --data` (TAMPERED before
 * review 93), with the advice to sign a checkpoint: the real log key then signed the rewritten history. A service
 * signs a new log's first checkpoint at once and once more when it stops, so leaves no checkpoint covers are "not
 * signed yet" only beside a live service holding the folder; in a stopped folder the checkpoints were removed.
 * Review 97: a signer that failed, or a kill before the first signature, leaves a stopped folder so too, and a lock
 * proves nothing: both are UNVERIFIED, never advised to sign, and a checkpoint kept from an earlier audit tells.
 */
const dirs: string[] = [];
let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A kept folder with a service's first command handled (logged and signed); the service left running. */
const serviceWithOneCommand = async (): Promise<TestService> => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-verify-held-'));
  dirs.push(dir);
  svc = await startTestService({ dir });
  const posted = await fetch(`${svc.url}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify(body.registerNode('meter-1')),
  });
  expect(posted.status).toBe(201);
  await settled(svc);
  return svc;
};
const deleteCheckpoints = (dir: string): void => {
  const log = new Database(join(dir, 'transparency.db'));
  try {
    log.exec('DELETE FROM checkpoints');
  } finally {
    log.close();
  }
};
const audit = async (dir: string, more: readonly string[] = []) => {
  const c = capture();
  const key = readFileSync(join(dir, 'transparency.pub'), 'utf8').trim();
  const code = await verifyCommand(['--data', dir, '--key', key, ...more], c.io);
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('verify --data of leaves no checkpoint covers', () => {
  it('fails a stopped service\'s folder whose checkpoints were deleted: UNVERIFIED, no advice to sign, and TAMPERED against a checkpoint kept from an earlier audit', async () => {
    const running = await serviceWithOneCommand();
    await running.close();
    svc = undefined;
    const saved = join(running.dir, 'saved.txt');
    expect((await audit(running.dir, ['--save-checkpoint', saved])).code).toBe(0);
    deleteCheckpoints(running.dir);
    const result = await audit(running.dir);
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/^UNVERIFIED: not_signed_yet: the log holds \d+ leaves matching the stored events and no checkpoint signed by the log key, so nothing was verified\. A log whose signing failed/);
    expect(result.err).not.toMatch(/A process holds|export|audit again/);
    const against = await audit(running.dir, ['--checkpoint', saved]);
    expect(against.code).toBe(1);
    expect(against.err).toMatch(/^TAMPERED: rolled_back: /);
  });

  it('tells them not signed yet beside a running service holding the folder: UNVERIFIED (exit 1), wait and audit again', async () => {
    const running = await serviceWithOneCommand();
    // The service keeps what it signed in memory and signs again only over new leaves: none come while this runs.
    deleteCheckpoints(running.dir);
    const result = await audit(running.dir);
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/^UNVERIFIED: not_signed_yet: the log holds \d+ leaves matching the stored events and no checkpoint signed by the log key, so nothing was verified\. A process holds the folder: a running service signs .*audit again after its checkpoint period; still none then, the service refuses to sign \(GET \/v1\/projections names why/);
    expect(result.err).not.toMatch(/TAMPERED|export/);
  });
});
