import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTransparencyLogInDir, PUBLIC_KEY_FILE } from '../adapters/driven/transparency/index.ts';
import {
  ConsistencyProofJson,
  InclusionProofJson,
  openCheckpoint,
  parseVerifierKey,
  RecordedEventJson,
  verifyConsistency,
  verifyEventInclusion,
  verifyEvidenceBundle,
  type NoteVerifierKey,
} from '../domain/transparency/index.ts';
import { footprint } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';

describe('the transparency log over HTTP: checkpoint, proofs and evidence that verify offline', () => {
  let svc: TestService;
  let api: Api;
  /** The log key as an auditor pins it: read from the data folder, never from what the server sends. */
  let key: NoteVerifierKey;
  const command = async (payload: unknown) => {
    const reply = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload });
    expect(reply.status).toBe(201);
    return reply.body as { events: { position: string }[] };
  };
  const checkpoint = async () => {
    const reply = await api.call<string>('GET', '/v1/transparency/checkpoint', {}, { token: svc.tokens.auditor });
    expect(reply.status).toBe(200);
    expect(reply.type).toMatch(/^text\/plain/);
    return reply.body;
  };

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    key = parseVerifierKey(readFileSync(join(svc.dir, PUBLIC_KEY_FILE), 'utf8').trim())!;
    expect(key).toBeDefined();
    await command(body.createSubscription());
    await command(body.registerNode('gw'));
    await command(body.enrolNode('gw'));
    await command(body.issueCredential('gw-c1', 'gw'));
    await settled(svc);
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('serves an evidence bundle of one entity that `credence verify` accepts offline, and a tampered copy it refuses', async () => {
    const reply = await api.call('GET', '/v1/transparency/evidence/{kind}/{id}', { kind: 'node', id: 'gw' }, { token: svc.tokens.auditor });
    expect(reply.status).toBe(200);
    const result = verifyEvidenceBundle(reply.body, { trustedKey: key });
    expect(result).toMatchObject({ ok: true, streamId: 'node-gw', events: 2 });

    const tampered = structuredClone(reply.body);
    tampered.entries[1].event.data.subscriptionId = 'sub-other';
    expect(verifyEvidenceBundle(tampered, { trustedKey: key })).toMatchObject({ ok: false });
    const missing = await api.call('GET', '/v1/transparency/evidence/{kind}/{id}', { kind: 'node', id: 'nope' }, { token: svc.tokens.auditor });
    expect(missing.status).toBe(404);
  });

  it('proves the inclusion of a fresh event against a checkpoint signed for it', async () => {
    const { events } = await command(body.provisionCredential('gw-c1'));
    const position = events.at(-1)!.position;
    const reply = await api.call('GET', '/v1/transparency/proofs/inclusion', {}, { token: svc.tokens.auditor, query: { position } });
    expect(reply.status).toBe(200);
    expect(reply.body.event.position).toBe(position);
    const result = verifyEventInclusion({
      event: RecordedEventJson.parse(reply.body.event),
      proof: InclusionProofJson.parse(reply.body.proof),
      checkpointNote: reply.body.checkpoint,
      logPublicKey: key,
    });
    expect(result).toMatchObject({ ok: true });
    const unknown = await api.call('GET', '/v1/transparency/proofs/inclusion', {}, { token: svc.tokens.auditor, query: { position: '999999' } });
    expect(unknown.status).toBe(404);
    // Bounded by what a store holds (2^63 - 1; domain/positions.ts): the largest is looked up, a larger one is a 400 (it was a 500).
    const largest = await api.call('GET', '/v1/transparency/proofs/inclusion', {}, { token: svc.tokens.auditor, query: { position: '9223372036854775807' } });
    expect(largest.status).toBe(404);
    for (const position of ['9223372036854775808', '99999999999999999999']) {
      const refused = await api.call('GET', '/v1/transparency/proofs/inclusion', {}, { token: svc.tokens.auditor, query: { position } });
      expect(refused.status, position).toBe(400);
      expect(refused.body.errors).toEqual([expect.objectContaining({ path: 'query.position' })]);
    }
  });

  it('serves the latest checkpoint as a signed note, and proves a later one consistent with it', async () => {
    const older = openCheckpoint(await checkpoint(), key);
    if (!older.ok) throw new Error(older.message);
    const { events } = await command(body.registerNode('meter-2'));
    // An inclusion proof of the newest event makes the log sign a checkpoint that covers it.
    await api.call('GET', '/v1/transparency/proofs/inclusion', {}, { token: svc.tokens.auditor, query: { position: events.at(-1)!.position } });
    const newer = openCheckpoint(await checkpoint(), key);
    if (!newer.ok) throw new Error(newer.message);
    expect(newer.checkpoint.treeSize).toBeGreaterThan(older.checkpoint.treeSize);

    const reply = await api.call('GET', '/v1/transparency/proofs/consistency', {}, { token: svc.tokens.auditor, query: { from: String(older.checkpoint.treeSize) } });
    expect(reply.status).toBe(200);
    expect(verifyConsistency(reply.body.from, reply.body.to, ConsistencyProofJson.parse(reply.body.proof), key)).toMatchObject({ ok: true });

    const backwards = await api.call('GET', '/v1/transparency/proofs/consistency', {}, {
      token: svc.tokens.auditor,
      query: { from: String(newer.checkpoint.treeSize), to: String(older.checkpoint.treeSize) },
    });
    expect(backwards.status).toBe(400);
    const unsigned = await api.call('GET', '/v1/transparency/proofs/consistency', {}, { token: svc.tokens.auditor, query: { from: String(newer.checkpoint.treeSize + 1000) } });
    expect(unsigned.status).toBe(404);
  });

  it('leaves a signed checkpoint over every stored event when the service shuts down', async () => {
    await command(body.registerNode('meter-3'));
    await settled(svc);
    const { count } = await footprint(svc.service.context.credence.store);
    await svc.service.close();
    // Read from the data folder, with nothing running that could sign one afterwards.
    const log = openTransparencyLogInDir(svc.dir);
    try {
      const latest = openCheckpoint(log.latestCheckpoint()!.note, key);
      if (!latest.ok) throw new Error(latest.message);
      expect(latest.checkpoint.treeSize).toBe(count);
    } finally {
      log.close();
    }
  });
});
