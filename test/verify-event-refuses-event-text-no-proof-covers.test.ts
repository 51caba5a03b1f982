import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openTransparencyLogInDir, PUBLIC_KEY_FILE } from '../adapters/driven/transparency/index.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { RecordedEventJson } from '../domain/transparency/index.ts';
import { capture } from './support/cli.ts';
import { exportedFolder } from './support/exported-folder.ts';
import { startTestService, type TestService } from './support/service.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review 88: `verify --event` read the event file with the lenient reader, so members the format does not
 * define were dropped before hashing (`"revoked": true` beside the event verified, exit 0) and numbers read as their
 * value (`"index": 6.000000000000000001` verified as 6). Each leaf hash covers the event as parsed: the file must say
 * nothing more than what was proved, as a bundle's events must (review 30).
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const verify = async (args: string[]) => {
  const c = capture();
  return { code: await verifyCommand(args, c.io), out: c.out.join('\n'), err: c.err.join('\n') };
};

const folder = async () => {
  const { dir, events } = await exportedFolder(dirs, 9);
  const log = openTransparencyLogInDir(dir);
  const hashes = log.inclusionProof(6, 9).map((h) => Buffer.from(h).toString('base64url'));
  const note = log.checkpointAt(9)!.note;
  log.close();
  const write = (name: string, content: string) => (writeFileSync(join(dir, name), content), join(dir, name));
  const eventText = JSON.stringify(RecordedEventJson.encode(events[6]!));
  return {
    write,
    eventText,
    proof: { leafIndex: 6, treeSize: 9, hashes },
    args: (event: string, proof = write('p.json', JSON.stringify({ leafIndex: 6, treeSize: 9, hashes }))) => [
      '--event', event, '--proof', proof, '--checkpoint', write('c.txt', note), '--key', join(dir, PUBLIC_KEY_FILE),
    ],
  };
};

describe('verify --event reads only an event whose every byte the proof covers', () => {
  it('verifies the event as logged', async () => {
    const f = await folder();
    const result = await verify(f.args(f.write('e.json', f.eventText)));
    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(/^ok: event .* is leaf 6 of the signed tree of size 9$/);
  });

  it('refuses members the event format does not define (exit 2, unknown_member)', async () => {
    const f = await folder();
    const top = await verify(f.args(f.write('e.json', `${f.eventText.slice(0, -1)},"revoked":true,"actorOverride":"admin-9"}`)));
    expect(top.code).toBe(2);
    expect(top.err).toMatch(/^error: --event: not a valid event file: revoked: unknown_member/);
    expect(top.out).toBe('');
  });

  it('refuses a number not written as JSON writes its value (exit 2, number_not_canonical)', async () => {
    const f = await folder();
    expect(f.eventText).toContain('"index":6,');
    const result = await verify(f.args(f.write('e.json', f.eventText.replace('"index":6,', '"index":6.000000000000000001,'))));
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/--event: .*number_not_canonical/);
    const proof = await verify(f.args(f.write('e.json', f.eventText), f.write('p.json', JSON.stringify(f.proof).replace('"leafIndex":6', '"leafIndex":6.0'))));
    expect(proof.code).toBe(2);
    expect(proof.err).toMatch(/--proof: .*number_not_canonical/);
  });

  it('refuses an inclusion proof file with a member the format does not define', async () => {
    const f = await folder();
    const result = await verify(f.args(f.write('e.json', f.eventText), f.write('p.json', JSON.stringify({ ...f.proof, note: 'trusted' }))));
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^error: --proof: not a valid inclusion proof file: note: unknown_member/);
  });
});

describe('the answer of GET /v1/transparency/proofs/inclusion, saved as the documentation says', () => {
  let svc: TestService;
  let api: Api;
  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    for (const payload of [body.createSubscription(), body.registerNode('gw'), body.enrolNode('gw')]) {
      expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload })).status).toBe(201);
    }
    await settled(svc);
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('verifies with credence verify --event --proof --checkpoint --key', async () => {
    const reply = await api.call('GET', '/v1/transparency/proofs/inclusion', {}, { token: svc.tokens.auditor, query: { position: '1' } });
    expect(reply.status).toBe(200);
    const dir = dirs.make();
    const write = (name: string, content: string) => (writeFileSync(join(dir, name), content), join(dir, name));
    const answer = reply.body as { event: unknown; proof: unknown; checkpoint: string };
    const key = readFileSync(join(svc.dir, PUBLIC_KEY_FILE), 'utf8').trim();
    const result = await verify([
      '--event', write('e.json', JSON.stringify(answer.event, null, 2)),
      '--proof', write('p.json', JSON.stringify(answer.proof)),
      '--checkpoint', write('c.txt', answer.checkpoint),
      '--key', key,
    ]);
    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(/^ok: event /);
  });
});
