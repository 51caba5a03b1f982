import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyBundle as verifyInConsole } from '../adapters/console/src/evidence.ts';
import { main } from '../bin/cli.ts';
import { eventLeafHash, RecordedEventJson, verifyEvidenceBundle } from '../domain/transparency/index.ts';
import { body as commands, settled } from './http-conformance.fixtures.ts';
import { capture } from './support/cli.ts';
import { esdbEvidenceService } from './support/esdb-evidence-service.ts';

/*
 * Found in review (after review 172): a bundle carries a fact claim naming a pseudonym withheld (leaf hash and proof,
 * no record), and the verifier took ANY entry so carried. Whoever passed a bundle on could swap the node's
 * NodeRevoked for a "withheld" entry of the same leaf hash and proof, and `credence verify --key` still said ok: the
 * revocation hidden, the bundle verified. Now the signed stream head lists the revisions withheld, and the bundle's
 * withheld entries must be exactly those.
 */

const NODE = 'esdb-withheld-signed-1';

type Entry = Record<string, unknown> & { event?: { type: string; revision: string; position: string }; withheld?: Record<string, string>; leafIndex: number; proof: string[] };
type Bundle = { streamHead: string; entries: Entry[] };

/** The text the log key signed: the stream head note up to its blank line. */
const headText = (bundle: Bundle): string => bundle.streamHead.slice(0, bundle.streamHead.indexOf('\n\n') + 1);

describe('a bundle withholds only the revisions its signed stream head lists', () => {
  const on = esdbEvidenceService(NODE, 'credence-withheld-signed-', async ({ svc, api }) => {
    const revoked = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: commands.revokeNode(NODE) });
    expect(revoked.status).toBe(201);
    await settled(svc);
  });

  const nodeBundle = async (): Promise<Bundle> => {
    const reply = await on.api.call<Bundle>('GET', '/v1/transparency/evidence/{kind}/{id}', { kind: 'node', id: NODE }, { token: on.svc.tokens.operator });
    expect(reply.status).toBe(200);
    return reply.body;
  };

  const verifyFile = async (bundle: Bundle, name: string) => {
    const file = join(on.dir, name);
    writeFileSync(file, JSON.stringify(bundle));
    const c = capture();
    const code = await main(['verify', file, '--key', on.logKey], c.io);
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  };

  it('signs the withheld revision and its reason in the stream head, and the honest bundle verifies', async () => {
    const bundle = await nodeBundle();
    const withheld = bundle.entries.filter((e) => e.withheld !== undefined);
    expect(withheld).toHaveLength(1);
    const text = headText(bundle);
    expect(text.split('\n').at(-2)).toBe(`withheld pseudonym_claimant ${withheld[0]!.withheld!['revision']}`);
    expect(text).not.toContain(on.pseudonym);
    const verified = await verifyFile(bundle, 'honest.json');
    expect(verified.code, verified.err).toBe(0);
    expect(verified.out).toMatch(/1 of them withheld/);
  });

  it("fails a bundle whose NodeRevoked is replaced by a withheld entry of the same leaf hash and proof", async () => {
    const bundle = await nodeBundle();
    const index = bundle.entries.findIndex((e) => e.event?.type === 'NodeRevoked');
    expect(index).toBeGreaterThan(0);
    const revocation = bundle.entries[index]!;
    const honest = verifyEvidenceBundle(bundle, { integrityOnly: true });
    expect(honest).toMatchObject({ ok: true });
    // The leaf hash the honest verifier proved for that entry: lifted from a withheld entry would be the wrong one,
    // so the forger takes it from the event itself, as anyone holding the bundle can.
    const leafHash = Buffer.from(eventLeafHash(RecordedEventJson.parse(revocation.event))).toString('base64url');
    bundle.entries[index] = {
      withheld: { reason: 'pseudonym_claimant', position: revocation.event!.position, revision: revocation.event!.revision, leafHash },
      leafIndex: revocation.leafIndex,
      proof: revocation.proof,
    };
    const result = verifyEvidenceBundle(bundle, { integrityOnly: true });
    expect(result).toMatchObject({ ok: false, reason: 'stream_head_mismatch' });
    expect(!result.ok && result.message).toMatch(new RegExp(`revision ${revocation.event!.revision} is withheld.*stream head`));
    const verified = await verifyFile(bundle, 'hidden-revocation.json');
    expect(verified.code).toBe(1);
    expect(verified.err).toContain('FAILED (stream_head_mismatch)');
    expect(verified.err).toContain('withheld');
    const report = verifyInConsole(bundle, on.logKey, `node-${NODE}`);
    expect(report).toMatchObject({ verdict: 'failed' });
    expect('checks' in report && report.checks.find((c) => c.outcome === 'failed')?.id).toBe('completeness');
  });

  it('fails a bundle that serves whole a record the stream head lists withheld', async () => {
    const bundle = await nodeBundle();
    const index = bundle.entries.findIndex((e) => e.withheld !== undefined);
    const entry = bundle.entries[index]!;
    // The record itself, as the inclusion proof serves it to an auditor who resolved the pseudonym.
    const resolved = await on.api.call('POST', '/v1/pseudonyms/resolutions', {}, { token: on.svc.tokens.auditor, body: { pseudonym: on.pseudonym, reason: 'case 2026-173' } });
    expect(resolved.status).toBe(200);
    const proof = await on.api.call<{ event: Entry['event'] }>('GET', '/v1/transparency/proofs/inclusion', {}, { token: on.svc.tokens.auditor, query: { position: entry.withheld!['position']! } });
    expect(proof.status).toBe(200);
    bundle.entries[index] = { event: proof.body.event, leafIndex: entry.leafIndex, proof: entry.proof };
    const result = verifyEvidenceBundle(bundle, { integrityOnly: true });
    expect(result).toMatchObject({ ok: false, reason: 'stream_head_mismatch' });
    expect(!result.ok && result.message).toMatch(new RegExp(`revision ${entry.withheld!['revision']} withheld \\(pseudonym_claimant\\), yet the bundle serves its record whole`));
    const verified = await verifyFile(bundle, 'shown-whole.json');
    expect(verified.code).toBe(1);
    expect(verified.err).toContain('FAILED (stream_head_mismatch)');
  });

  it('signs a stream head of the five lines it always had when nothing is withheld', async () => {
    const created = await on.api.call('POST', '/v1/commands', {}, { token: on.svc.tokens.operator, body: commands.createSubscription('sub-plain') });
    expect(created.status).toBe(201);
    await settled(on.svc);
    const reply = await on.api.call<Bundle>('GET', '/v1/transparency/evidence/{kind}/{id}', { kind: 'subscription', id: 'sub-plain' }, { token: on.svc.tokens.operator });
    expect(reply.status).toBe(200);
    expect(reply.body.entries.every((e) => e.withheld === undefined)).toBe(true);
    // Byte for byte the head every verifier before this one reads: label, origin, tree, stream, events.
    const lines = headText(reply.body).split('\n');
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['credence-stream-head/v1', 'origin', 'tree', 'stream', 'events', '']);
    expect((await verifyFile(reply.body, 'subscription.json')).code).toBe(0);
  });
});
