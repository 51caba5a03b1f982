import type { FastifyReply } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import type { ServiceContext } from '../adapters/http/context.ts';
import { complianceEventsBehindInto } from '../adapters/http/routes/compliance-behind.ts';
import type { RecordedEvent } from '../domain/ports/index.ts';
import { command } from '../domain/commands/index.ts';
import { PROCESS_MANAGER_ACTOR } from '../projections/cascade/index.ts';
import { settled } from './http-sse.fixtures.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 279: the wait of `dangling-associations` and `expiring` for the cascade (review 272) read a new head each
 * round and waited again whenever the cascade had recorded an event past it, so while a fleet was active (one writer
 * issuing a credential, an association, revoking the credential, in a loop) every answer waited the whole bound and
 * said `eventsBehind` 1 or more, though everything stored when the request came, and the cascade's work from it, had
 * been handled. It now follows only the cascade's reactions stemming from what was stored when the request came.
 * Rounds are counted as the runtime's waits (`live.caughtUp`) a request makes, not as time.
 */

const ASSOCIATIONS = 30;

interface Answer {
  readonly status: number;
  readonly eventsBehind: number;
  readonly header: string | null;
  readonly rows: readonly Record<string, unknown>[];
  /** How many times the request waited for the live runtime (one per round). */
  readonly waits: number;
}

describe('the cascade wait under a steady writer', () => {
  let svc: TestService;
  let waits = 0;
  const run = (input: unknown) => svc.service.context.credence.engine.execute(input);
  const query = async (name: string, params: Record<string, string> = {}): Promise<Answer> => {
    const before = waits;
    const r = await fetch(`${svc.url}/v1/compliance/${name}?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    const body = (await r.json()) as { eventsBehind: number; rows: Record<string, unknown>[] };
    return { status: r.status, eventsBehind: body.eventsBehind, header: r.headers.get('credence-events-behind'), rows: body.rows, waits: waits - before };
  };
  const cascadeEventsStored = async (): Promise<number> => {
    let count = 0;
    for await (const e of svc.service.context.credence.store.readAll()) {
      const actor = e.metadata['actor'] as { id?: unknown } | undefined;
      if (actor?.id === PROCESS_MANAGER_ACTOR.id) count++;
    }
    return count;
  };

  /**
   * One writer, as a fleet at work: a credential issued, an association on it, the credential revoked (which the
   * cascade follows by revoking the association), again and again, one command after another.
   */
  const writer = (prefix: string) => {
    let stop = false;
    let round = 0;
    const done = (async () => {
      while (!stop) {
        const credential = `${prefix}-cred-${round}`;
        for (const c of [
          cmd.issueCredential(credential, 'meter-writer'),
          cmd.provisionCredential(credential),
          cmd.configureAssociation(`${prefix}-sa-${round}`, credential, 'meter-writer'),
          cmd.revokeCredential(credential),
        ]) {
          await run(c);
        }
        round++;
      }
    })();
    return {
      rounds: () => round,
      stop: async () => {
        stop = true;
        await done;
      },
    };
  };

  beforeAll(async () => {
    svc = await startTestService({ clock: new FakeClock(T0) });
    const { live } = svc.service.context;
    const caughtUp = live.caughtUp.bind(live);
    live.caughtUp = (...args) => {
      waits++;
      return caughtUp(...args);
    };
    await run(cmd.createSubscription());
    for (const c of [cmd.registerNode('meter-writer'), cmd.enrolNode('meter-writer')]) await run(c);
    for (const c of [cmd.registerNode('meter-gone'), cmd.enrolNode('meter-gone'), cmd.issueCredential('meter-gone-cred', 'meter-gone'), cmd.provisionCredential('meter-gone-cred')]) await run(c);
    for (let i = 0; i < ASSOCIATIONS; i++) {
      await run(cmd.configureAssociation(`meter-gone-sa-${i}`, 'meter-gone-cred', 'meter-gone'));
      await run(cmd.establishAssociation(`meter-gone-sa-${i}`));
    }
    await settled(svc);
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('everything stored when the request came, and its cascade, handled: 0 behind, in a few rounds', async () => {
    const cascadeBefore = await cascadeEventsStored();
    const w = writer('steady');
    try {
      // The writer under way, and the cascade following it.
      while (w.rounds() < 2) await new Promise((resolve) => setTimeout(resolve, 10));
      for (let i = 0; i < 6; i++) {
        const answer = i % 2 === 0 ? await query('dangling-associations') : await query('expiring', { days: '365' });
        expect(answer.status).toBe(200);
        expect(answer.header).toBe(String(answer.eventsBehind));
        expect(answer, `answer ${i}`).toMatchObject({ eventsBehind: 0 });
        // A wait for what was stored when the request came, and one per level of the cascade's reactions to it (a
        // credential revoked, its association revoked, its bookkeeping), not one per event the writer stored since.
        expect(answer.waits, `answer ${i}`).toBeLessThanOrEqual(5);
      }
    } finally {
      await w.stop();
    }
    // The cascade was at work meanwhile: its events lay past the head of every request above.
    expect(await cascadeEventsStored()).toBeGreaterThan(cascadeBefore);
    await settled(svc);
  }, 30_000);

  it('a node revoked while the writer goes on: its associations are never answered as whole findings', async () => {
    const w = writer('racing');
    try {
      while (w.rounds() < 1) await new Promise((resolve) => setTimeout(resolve, 10));
      await run(command('revokeNode', { nodeId: 'meter-gone', reason: 'keyCompromise' }, { actor: operator }));
      // The node's revocation was stored before the request came: its credential's revocation and its associations'
      // (caused by that one, not by the node's) are the cascade's work from it, waited for.
      for (let i = 0; i < 4; i++) {
        const answer = await query('dangling-associations', { limit: '1000' });
        expect(answer.status).toBe(200);
        const gone = answer.rows.filter((r) => r['credentialId'] === 'meter-gone-cred');
        expect(gone.length === 0 || answer.eventsBehind > 0, `${gone.length} rows of meter-gone with eventsBehind ${answer.eventsBehind}`).toBe(true);
        const expiring = await query('expiring', { days: '365' });
        const goneCredential = expiring.rows.filter((r) => r['credentialId'] === 'meter-gone-cred');
        expect(goneCredential.length === 0 || expiring.eventsBehind > 0, `meter-gone-cred listed with eventsBehind ${expiring.eventsBehind}`).toBe(true);
      }
    } finally {
      await w.stop();
    }
    await settled(svc);
    const after = await query('dangling-associations');
    expect(after).toMatchObject({ status: 200, eventsBehind: 0, rows: [] });
  }, 30_000);
});

/**
 * The same, event by event, against a stand-in store and runtime: each wait lets the cascade react to what it waited
 * for, and a writer store one more revocation, which the cascade then follows too, for ever.
 */
describe('the cascade wait, event by event', () => {
  const operatorActor = { id: 'op-1', role: 'operator' };
  const cascadeActor = { id: PROCESS_MANAGER_ACTOR.id, role: PROCESS_MANAGER_ACTOR.role };

  const standIn = (script: (waitedFor: bigint, append: (id: string, cause?: string) => string) => void, reachable = true) => {
    const events: RecordedEvent[] = [];
    const append = (id: string, cause?: string): string => {
      const position = BigInt(events.length + 1);
      const metadata = cause === undefined ? { actor: operatorActor, causationId: `cmd-${id}` } : { actor: cascadeActor, causationId: cause };
      events.push({ id, streamId: `s-${id}`, revision: 0n, position, type: 'Revoked', data: {}, metadata });
      return id;
    };
    const waits: { readonly position: bigint; readonly components: readonly string[] }[] = [];
    const context = {
      credence: {
        store: {
          headPosition: async () => events.at(-1)?.position,
          readAll: async function* (options: { afterPosition?: bigint; maxCount?: number } = {}) {
            let n = 0;
            for (const e of events.filter((e) => e.position > (options.afterPosition ?? 0n))) {
              if (n++ >= (options.maxCount ?? Infinity)) return;
              yield e;
            }
          },
        },
      },
      live: {
        lag: () => ({ eventsBehind: 0, secondsBehind: 0 }),
        caughtUp: async (position: bigint, _timeoutMs: number, components: readonly string[]) => {
          waits.push({ position, components });
          if (waits.length > 50) return false;
          script(position, append);
          return reachable;
        },
      },
      limits: { readyMaxLagEvents: 1_000 },
    } as unknown as ServiceContext;
    const headers: Record<string, string> = {};
    const reply = { header: (k: string, v: string) => ((headers[k] = v), reply) } as unknown as FastifyReply;
    return { context, reply, headers, waits, append };
  };

  it("waits for the cascade's chain from what was stored, never for the reactions to what came later", async () => {
    let writes = 0;
    const { context, reply, headers, waits, append } = standIn((waitedFor, add) => {
      // The cascade reacts to what it handled; the writer goes on, and the cascade follows the writer too.
      if (waitedFor === 2n) add('cred-of-node', 'node-revoked'); // 3: the node's credential, caused by the node's end
      if (waitedFor === 3n) add('assoc-of-node', 'cred-of-node'); // caused by the credential's revocation
      const w = add(`writer-${++writes}`);
      add(`writer-assoc-${writes}`, w);
    });
    append('writer-0');
    append('node-revoked'); // 2: the head when the request comes
    expect(await complianceEventsBehindInto(context, reply, 'dangling-associations')).toBe(0);
    expect(headers['credence-events-behind']).toBe('0');
    // The head, the node's credential's revocation, its association's: not the writer's revocations nor their reactions.
    const assocOfNode = (await readIds(context)).indexOf('assoc-of-node') + 1;
    expect(waits.map((w) => w.position)).toEqual([2n, 3n, BigInt(assocOfNode)]);
    expect(waits.slice(1).every((w) => w.components.includes('compliance') && w.components.includes('cascade'))).toBe(true);
  });

  it('the cascade not reaching its work from what was stored: the lag, at least 1', async () => {
    const { context, reply, headers, append } = standIn(() => undefined, false);
    append('node-revoked');
    expect(await complianceEventsBehindInto(context, reply, 'expiring')).toBe(1);
    expect(headers['credence-events-behind']).toBe('1');
  });
});

const readIds = async (context: ServiceContext): Promise<string[]> => {
  const ids: string[] = [];
  for await (const e of context.credence.store.readAll()) ids.push(e.id);
  return ids;
};
