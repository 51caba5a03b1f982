import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { fleetSummary } from '../bin/commands/demo/summary.ts';

/*
 * Review 259: `credence demo`'s summary said "BROKEN histories: see credence replay" when every finding was by a rule
 * newer than its stored event or followed from one, which docs/service.md (Upgrading) says are shown apart, "not as
 * broken histories". It now reads the verdict's counts as `credence replay` does, and words them as it does.
 */

/** A server on 127.0.0.1 answering GET /v1/replay with `counts`; the summary's first line. */
const firstLine = async (counts: Record<string, number>, total: number): Promise<string> => {
  const finding = { streamId: 'association-ae-x-live', position: '80', revision: '1', reason: 'AssociationConfigured refused …' };
  const answer = {
    ok: false, events: 120, kinds: {}, foreignEvents: 0,
    findings: [finding], findingsTotal: total, brokenStreams: ['association-ae-x-live'], brokenStreamsTotal: total, ...counts,
  };
  const server: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return (await fleetSummary({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't' }))[0]!;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
};

describe("credence demo's summary of the fleet", () => {
  it('says no broken history when every finding is by a newer rule or follows from one, as credence replay words them', async () => {
    const line = await firstLine({ findingsByNewerRules: 6, findingsFollowingNewerRules: 4 }, 10);
    expect(line).toBe(
      'The fleet (GET /v1/replay): 120 events, no broken history; 6 of the 10 findings are by rules newer than the stored events and 4 follow from them, left by an upgrade if an earlier version stored them, else written behind the engine (nothing in the store tells which): see Upgrading in docs/service.md',
    );
    expect(await firstLine({ findingsByNewerRules: 3 }, 3)).toBe(
      'The fleet (GET /v1/replay): 120 events, no broken history; 3 of the 3 findings are by rules newer than the stored events, left by an upgrade if an earlier version stored them, else written behind the engine (nothing in the store tells which): see Upgrading in docs/service.md',
    );
  });

  it('says broken histories when some findings are neither, with the others told apart', async () => {
    expect(await firstLine({ findingsByNewerRules: 6, findingsFollowingNewerRules: 3 }, 10)).toBe(
      'The fleet (GET /v1/replay): 120 events, BROKEN histories: see credence replay (6 of the 10 findings are by rules newer than the stored events and 3 follow from them, left by an upgrade if an earlier version stored them, else written behind the engine (nothing in the store tells which): see Upgrading in docs/service.md)',
    );
    // A server before the counts: every finding is taken as it was.
    expect(await firstLine({}, 2)).toBe('The fleet (GET /v1/replay): 120 events, BROKEN histories: see credence replay');
  });
});
