import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { canonicalTagger } from '../adapters/http/sse/event-id.ts';
import { derivedCommandId, eventIdFor } from '../domain/event-ids.ts';
import { intervalCommandId } from '../projections/pseudonyms/rotation.ts';
import { openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { T0 } from './support/fleet.ts';
import { ROTATIONS, serviceWithMetersRotatingHourly, untilMetersAtEpoch } from './support/hourly-pseudonym-rotations.ts';
import type { TestService } from './support/service.ts';

/*
 * Review 208 (high; SER-011, SER-025): the compliance `actions` rows of a pseudonym leave its event id out (derived
 * from the Node-ID: the registration's event id for the initial rotation, the epoch for an interval one), yet the
 * page's `nextAfter` (and credence-next-after) carried `<position>~<tag>` with the tag a plain SHA-256 of that same
 * id. An admin, who may not follow the canonical stream nor resolve a pseudonym, computed the tag of every node's
 * rotation from the node list and linked each pseudonym row to its node and epoch; and a guessed `after` at a
 * pseudonym's position was answered 200 when right and 409 when wrong. A cursor at a pseudonym's event is now tagged
 * under the pseudonymised stream's key, and checked against that tag only.
 */
const HOUR = 3_600_000;
const METERS = ['meter-a', 'meter-b', 'meter-c', 'meter-d', 'meter-e'];

interface Page {
  readonly rows: { readonly position: string; readonly streamId: string }[];
  readonly truncated: boolean;
  readonly nextAfter?: string;
}

describe("a compliance cursor at a pseudonym's event names no node to an admin", () => {
  const clock = new FakeClock(T0);
  let svc: TestService;
  let api: Api;
  /** What anyone with the node list (and each node's registration event id, on its row) computes: id -> node. */
  const derived = new Map<string, string>();
  /** The event id at each rotation's position, as stored: position -> id. */
  const stored = new Map<string, string>();
  /** The node behind each rotation's position. */
  const nodeAt = new Map<string, string>();

  const actions = (after?: string, limit = '1') =>
    api.call<Page>('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.admin, query: { actor: ROTATIONS, limit, ...(after !== undefined ? { after } : {}) } });

  /** Every page of the rotations' actions, one row a page, with the cursors the server handed out. */
  const pages = async (): Promise<{ readonly rows: Page['rows']; readonly cursors: string[] }> => {
    const rows: Page['rows'][number][] = [];
    const cursors: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 50; i++) {
      const page = await actions(after);
      expect(page.status, page.text).toBe(200);
      rows.push(...page.body.rows);
      if (!page.body.truncated) return { rows, cursors };
      expect(page.headers.get('credence-next-after')).toBe(page.body.nextAfter);
      cursors.push(page.body.nextAfter!);
      after = page.body.nextAfter;
    }
    throw new Error('never ended');
  };

  beforeAll(async () => {
    svc = await serviceWithMetersRotatingHourly(clock, METERS);
    api = await openApi(svc);
    const { credence } = svc.service.context;
    // One interval round: every meter from epoch 0 to 1.
    clock.advance(HOUR + 1);
    await untilMetersAtEpoch(svc, METERS, 1);
    await settled(svc);
    for await (const e of credence.store.readAll()) {
      if (e.type === 'NodeRegistered') {
        const node = String(e.data['nodeId']);
        derived.set(eventIdFor(derivedCommandId(`pseudonym:initial:${node}`, e.id), 0), node);
        derived.set(eventIdFor(intervalCommandId(node, 0), 0), node);
      }
      if (e.type === 'PseudonymRotated') {
        stored.set(e.position.toString(10), e.id);
        nodeAt.set(e.position.toString(10), String(e.data['nodeId']));
      }
    }
  }, 90_000);
  afterAll(() => svc?.close());

  it("is the reviewer's scene: ten rotations, each one's event id computable from its node alone", () => {
    expect(stored.size).toBe(10);
    for (const [position, id] of stored) expect(derived.get(id), position).toBe(nodeAt.get(position));
  });

  it('hands out no cursor whose tag is the plain tag of any rotation derived from the node list', async () => {
    const { rows, cursors } = await pages();
    // Review 251: the rows themselves are left out to an admin; the pages are cut where they were, at each rotation.
    expect(rows).toHaveLength(0);
    expect(cursors).toHaveLength(9);
    const plainTags = new Set([...derived.keys()].map(canonicalTagger));
    for (const cursor of cursors) {
      const [position, tag] = cursor.split('~');
      expect(stored.has(position!), cursor).toBe(true);
      expect(plainTags.has(tag!), cursor).toBe(false);
    }
  });

  it("answers a plain-tag guess at a pseudonym's position alike for the right node and a wrong one", async () => {
    for (const [position, id] of stored) {
      const wrong = [...derived].find(([other, node]) => node !== nodeAt.get(position) && other !== id)![0];
      const right = await actions(`${position}~${canonicalTagger(id)}`);
      const guessed = await actions(`${position}~${canonicalTagger(wrong)}`);
      // Refused either way: at a pseudonym's event only the keyed tag is checked, so no plain one is confirmed.
      expect(right.status, position).toBe(409);
      expect(right.status, position).toBe(guessed.status);
      expect((right.body as unknown as { code?: string }).code, position).toBe((guessed.body as unknown as { code?: string }).code);
    }
  });

  it('resumes after each cursor it gave, as one page would have listed the rows', async () => {
    const whole = await actions(undefined, '100');
    expect(whole.status).toBe(200);
    const { rows, cursors } = await pages();
    expect(rows).toEqual(whole.body.rows);
    for (const [n, cursor] of cursors.entries()) {
      const page = await actions(cursor);
      expect(page.status, cursor).toBe(200);
      expect(page.body.rows, cursor).toEqual(whole.body.rows.slice(n + 1, n + 2));
    }
    // A keyed tag names its own event only: moved to another rotation's position, it is refused.
    const [first, second] = cursors.map((c) => c.split('~'));
    expect((await actions(`${second![0]}~${first![1]}`)).status).toBe(409);
    // A bare position is still taken as it comes.
    const bare = await actions(cursors[0]!.split('~')[0]);
    expect(bare.status).toBe(200);
    expect(bare.body.rows).toEqual(whole.body.rows.slice(1, 2));
  });

  it("tags a cursor at any other event as before: the plain tag of that event's id", async () => {
    const { credence } = svc.service.context;
    const registered: { position: string; id: string }[] = [];
    for await (const e of credence.store.readAll()) if (e.type === 'NodeRegistered') registered.push({ position: e.position.toString(10), id: e.id });
    // A registration is a node's own event: its cursor is checked against the plain tag, as documented.
    const first = registered[0]!;
    const taken = await actions(`${first.position}~${canonicalTagger(first.id)}`);
    expect(taken.status, taken.text).toBe(200);
    const other = await actions(`${first.position}~${canonicalTagger(registered[1]!.id)}`);
    expect(other.status).toBe(409);
  });
});
