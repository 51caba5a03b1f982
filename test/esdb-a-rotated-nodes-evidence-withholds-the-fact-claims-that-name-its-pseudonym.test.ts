import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSignatures, verifyBundle as verifyInConsole } from '../adapters/console/src/evidence.ts';
import { main } from '../bin/cli.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { verifyEvidenceBundle } from '../domain/transparency/index.ts';
import { capture } from './support/cli.ts';
import { esdbEvidenceService } from './support/esdb-evidence-service.ts';

/*
 * Review 172 (SER-025, SER-011, SER-018): on EventStoreDB a pseudonym's rotation reads its node as a fact, so it
 * claims the node's stream and its command id with `CredenceFactClaimed` markers whose `claimant` is the pseudonym's
 * stream. The transparency log records them as leaves, and the node's evidence bundle (any read role) and the
 * inclusion proofs of both markers served every pseudonym the node ever had, with no resolution recorded. Now the
 * bundle carries such a marker withheld (leaf hash and proof, no record) and still verifies, and its proofs are 403
 * but to an auditor who resolved the pseudonym.
 */

const NODE = 'esdb-rotated-7';

const utf8Json = (bytes: Uint8Array): Record<string, unknown> => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;

describe("a rotated node's evidence on EventStoreDB names none of its pseudonyms", () => {
  /** The marker the rotation left on the node's stream and the one binding its command id: their positions. */
  const claims: { where: string; position: string }[] = [];

  const on = esdbEvidenceService(NODE, 'credence-withheld-', async ({ standIn, pseudonym }) => {
    const claimant = `pseudonym-${pseudonym}`;
    const onNode = (standIn.log.stream(`node-${NODE}`) ?? []).filter((e) => e.type === FACT_CLAIM_TYPE && utf8Json(e.data)['claimant'] === claimant);
    expect(onNode).toHaveLength(1);
    const commandId = String(utf8Json(onNode[0]!.data)['commandId']);
    const onCommand = (standIn.log.stream(`credence-command-${commandId}`) ?? []).filter((e) => e.type === FACT_CLAIM_TYPE && utf8Json(e.data)['claimant'] === claimant);
    expect(onCommand).toHaveLength(1);
    claims.push({ where: 'the node claim', position: onNode[0]!.position.toString(10) }, { where: 'the command claim', position: onCommand[0]!.position.toString(10) });
  });

  const nodeBundle = async (token: string) => {
    const reply = await on.api.call<{ entries: Record<string, unknown>[] }>('GET', '/v1/transparency/evidence/{kind}/{id}', { kind: 'node', id: NODE }, { token });
    expect(reply.status).toBe(200);
    return reply;
  };

  it("serves the node's bundle to an operator with the claim withheld: no pseudonym stream id anywhere in it", async () => {
    const reply = await nodeBundle(on.svc.tokens.operator);
    expect(reply.text).not.toContain('pseudonym-p-');
    expect(reply.text).not.toContain(on.pseudonym);
    const withheld = reply.body.entries.filter((e) => e['withheld'] !== undefined);
    expect(withheld).toHaveLength(1);
    expect(withheld[0]).not.toHaveProperty('event');
    // The node's own events are there whole.
    expect(reply.body.entries.some((e) => (e['event'] as { type?: string } | undefined)?.type === 'NodeRegistered')).toBe(true);
  });

  it('verifies offline under the pinned log key, saying how many entries were withheld and why', async () => {
    const { body } = await nodeBundle(on.svc.tokens.operator);
    const file = join(on.dir, 'node.json');
    writeFileSync(file, JSON.stringify(body));
    const c = capture();
    expect(await main(['verify', file, '--key', on.logKey], c.io)).toBe(0);
    const said = c.out.join('\n');
    expect(said).toContain(`node-${NODE}`);
    expect(said).toMatch(/1 of them withheld/);
    expect(said).toContain('pseudonym');
    const verified = verifyEvidenceBundle(body, { integrityOnly: true });
    expect(verified).toMatchObject({ ok: true, withheld: 1 });
  });

  it("verifies in the console too, whose verdict, inclusion check and signature rows say what was withheld and why", async () => {
    const { body } = await nodeBundle(on.svc.tokens.operator);
    const report = verifyInConsole(body, on.logKey, `node-${NODE}`);
    expect(report).toMatchObject({ verdict: 'verified' });
    const inclusion = 'checks' in report ? report.checks.find((c) => c.id === 'inclusion') : undefined;
    expect(inclusion).toMatchObject({ outcome: 'passed' });
    expect(inclusion?.detail).toMatch(/^1 of \d+ withheld/);
    // Review 181: the verdict said "Verified. N events of node-… are in the log" without a word of the withheld one,
    // which the CLI puts in its success line.
    expect('withheldNote' in report && report.withheldNote).toMatch(/^1 of them withheld, as the signed stream head lists them, proved by leaf hash without their record: fact claims a pseudonym's rotation made/);
    const rows = checkSignatures(body, '');
    expect('rows' in rows && rows.rows.filter((r) => r.status === 'withheld')).toHaveLength(1);
  });

  it('refuses an entry holding both its record and a withheld leaf', async () => {
    const { body } = await nodeBundle(on.svc.tokens.operator);
    const whole = body.entries.find((e) => e['event'] !== undefined)!;
    const withheld = body.entries.find((e) => e['withheld'] !== undefined)!;
    whole['withheld'] = withheld['withheld'];
    expect(verifyEvidenceBundle(body, { integrityOnly: true })).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('fails a bundle whose withheld entry carries another leaf hash', async () => {
    const { body } = await nodeBundle(on.svc.tokens.operator);
    const entry = body.entries.find((e) => e['withheld'] !== undefined) as { withheld: { leafHash: string } };
    const hash = entry.withheld.leafHash;
    entry.withheld.leafHash = `${hash[0] === 'A' ? 'B' : 'A'}${hash.slice(1)}`;
    expect(verifyEvidenceBundle(body, { integrityOnly: true })).toMatchObject({ ok: false, reason: 'not_included' });
    const file = join(on.dir, 'altered.json');
    writeFileSync(file, JSON.stringify(body));
    const c = capture();
    expect(await main(['verify', file, '--key', on.logKey], c.io)).toBe(1);
    expect(c.err.join('\n')).toContain('FAILED (not_included)');
  });

  it('refuses the inclusion proofs of both claims (403) to an operator and to an auditor who has not resolved the pseudonym, naming no pseudonym', async () => {
    for (const token of [on.svc.tokens.operator, on.svc.tokens.admin, on.svc.tokens.auditor]) {
      for (const { where, position } of claims) {
        const reply = await on.api.call('GET', '/v1/transparency/proofs/inclusion', {}, { token, query: { position } });
        expect(reply.status, where).toBe(403);
        expect(reply.text, where).not.toContain(on.pseudonym);
        expect((reply.body as { reason: string }).reason, where).toContain('/v1/pseudonyms/resolutions');
      }
    }
  });

  it('serves them to the auditor who recorded a resolution of the pseudonym, whose bundle of the node stays the same', async () => {
    const resolved = await on.api.call('POST', '/v1/pseudonyms/resolutions', {}, { token: on.svc.tokens.auditor, body: { pseudonym: on.pseudonym, reason: 'case 2026-172' } });
    expect(resolved.status).toBe(200);
    for (const { where, position } of claims) {
      const reply = await on.api.call('GET', '/v1/transparency/proofs/inclusion', {}, { token: on.svc.tokens.auditor, query: { position } });
      expect(reply.status, where).toBe(200);
      expect(reply.text, where).toContain(`pseudonym-${on.pseudonym}`);
      expect((await on.api.call('GET', '/v1/transparency/proofs/inclusion', {}, { token: on.svc.tokens.operator, query: { position } })).status, where).toBe(403);
    }
    // No per-principal variant: the node's bundle withholds the claim from the resolving auditor too.
    expect((await nodeBundle(on.svc.tokens.auditor)).text).not.toContain(on.pseudonym);
  });
});
