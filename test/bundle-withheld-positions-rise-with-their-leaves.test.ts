import { describe, expect, it } from 'vitest';
import { verifyEvidenceBundle } from '../domain/transparency/index.ts';
import { body as commands, settled } from './http-conformance.fixtures.ts';
import { esdbEvidenceService } from './support/esdb-evidence-service.ts';

/*
 * Found in review 372: a withheld entry's `position` is covered by no hash the bundle shows (its leaf hash covers it,
 * but the record is not there to hash), and the verifier ordered entries by revision and leaf index only: the withheld
 * fact claim's position changed from 11 to 999999 still verified ok, and the console showed it. Positions must now rise
 * strictly with leaf index, as the log appends them (as `verifyExportedLog` holds an exported log to): a withheld
 * entry's position stays between its neighbours'.
 */
const NODE = 'esdb-withheld-position-1';

type Entry = { event?: { type: string; position: string; revision: string }; withheld?: { position: string; revision: string }; leafIndex: number; proof: string[] };
type Bundle = { entries: Entry[] };

describe("a bundle's withheld entry is held to the positions of its neighbours", () => {
  const on = esdbEvidenceService(NODE, 'credence-withheld-position-', async ({ svc, api }) => {
    // An event after the withheld fact claim, so that its position has a neighbour on each side.
    expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: commands.revokeNode(NODE) })).status).toBe(201);
    await settled(svc);
  });

  const nodeBundle = async (): Promise<Bundle> => {
    const reply = await on.api.call<Bundle>('GET', '/v1/transparency/evidence/{kind}/{id}', { kind: 'node', id: NODE }, { token: on.svc.tokens.operator });
    expect(reply.status).toBe(200);
    return reply.body;
  };

  it.each([
    ['past the next entry', (_before: bigint, _after: bigint) => '999999'],
    ['at the entry before it', (before: bigint) => before.toString(10)],
  ])('fails out_of_order when its position is moved %s', async (_what, moved) => {
    const bundle = await nodeBundle();
    expect(verifyEvidenceBundle(bundle, { integrityOnly: true })).toMatchObject({ ok: true });
    const index = bundle.entries.findIndex((e) => e.withheld !== undefined);
    expect(index).toBeGreaterThan(0);
    expect(index).toBeLessThan(bundle.entries.length - 1);
    const at = (i: number) => BigInt((bundle.entries[i]!.event ?? bundle.entries[i]!.withheld)!.position);
    bundle.entries[index]!.withheld!.position = moved(at(index - 1), at(index + 1));
    const result = verifyEvidenceBundle(bundle, { integrityOnly: true });
    expect(result).toMatchObject({ ok: false, reason: 'out_of_order' });
    expect(!result.ok && result.message).toMatch(/position .* leaf/);
  });
});
