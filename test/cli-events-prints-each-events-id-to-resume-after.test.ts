import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 206 finding 3: `credence events` printed an event's position only (`@42`), in its lines and in no member of
 * its NDJSON, though --from offers POSITION~TAG, which the server checks is its own log's: a script could resume only
 * with an unchecked position. Now a line starts with the id as the stream sent it (`@42~1a2b3c4d`), and an NDJSON
 * object carries it as `id`; given back as --from, it resumes strictly after that event.
 */

const ID = /^\d+~[0-9a-f]{8}$/;
const LINE = /^@(\d+~[0-9a-f]{8}) (\S+) (\w+) +(\S+)$/;

describe('credence events prints the id to resume after', () => {
  const svc = useTestService();
  const events = (...argv: string[]) => runCli(['events', '--server', svc.url, '--token', svc.tokens.auditor, '--kind', 'subscription', ...argv]);

  it('in a line and as `id` in NDJSON, and --from that id resumes after its event', async () => {
    for (const name of ['city-a', 'city-b', 'city-c']) {
      const r = await runCli(['subscription', 'create', name, '--subscriber', 'City', '--not-before', '2020-01-01T00:00:00Z', '--not-after', '2040-01-01T00:00:00Z', '--server', svc.url, '--token', svc.tokens.operator]);
      expect(r.code, r.err).toBe(0);
    }

    const human = await events('--limit', '3');
    expect(human.code, human.err).toBe(0);
    const lines = human.out.split('\n');
    for (const line of lines) expect(line).toMatch(LINE);
    const ids = lines.map((line) => LINE.exec(line)![1]!);

    const json = await events('--json', '--limit', '3');
    expect(json.code, json.err).toBe(0);
    const objects = json.out.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(objects.map((o) => o['id'])).toEqual(ids);
    for (const o of objects) {
      expect(o['id']).toMatch(ID);
      // The members the server sent keep their meaning: `position` is still the position alone.
      expect(`${String(o['position'])}~`).toBe(String(o['id']).slice(0, String(o['position']).length + 1));
      expect(o).toMatchObject({ type: 'SubscriptionCreated', streamId: expect.stringMatching(/^subscription-city-/) });
    }

    // The id printed, given back, resumes strictly after its event: from a line and from an NDJSON object alike.
    const fromLine = await events('--from', ids[0]!, '--limit', '2');
    expect(fromLine.code, fromLine.err).toBe(0);
    expect(fromLine.out.split('\n').map((line) => LINE.exec(line)?.[1])).toEqual(ids.slice(1));
    const fromJson = await events('--json', '--from', String(objects[1]!['id']), '--limit', '1');
    expect(fromJson.code, fromJson.err).toBe(0);
    expect((JSON.parse(fromJson.out) as Record<string, unknown>)['id']).toBe(ids[2]);
  }, 60_000);
});
