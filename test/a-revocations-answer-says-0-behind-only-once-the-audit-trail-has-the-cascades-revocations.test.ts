import type { FastifyReply } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { ServiceContext } from '../adapters/http/context.ts';
import { complianceEventsBehindInto } from '../adapters/http/routes/compliance-behind.ts';
import type { RecordedEvent } from '../domain/ports/index.ts';
import { PROCESS_MANAGER_ACTOR } from '../projections/cascade/index.ts';

/*
 * Review 334: a `revocations` row takes its signature and token from the audit trail (LEFT JOIN by position), but the
 * answer waited for the cascade's revocations stemming from the request's head on the compliance and cascade read
 * models only. The live runtime advances each read model on its own, so compliance could hold a cascade revocation the
 * audit trail had not reached: a row without signature or token under `eventsBehind: 0`, which an incremental exporter
 * trusting it never reads again. Stand-in store and runtime: the audit trail has handled 10, compliance and the cascade
 * 11, and 11 is the cascade's revocation caused by 10, the head when the request came.
 */
const operatorActor = { id: 'op-1', role: 'operator' };
const cascadeActor = { id: PROCESS_MANAGER_ACTOR.id, role: PROCESS_MANAGER_ACTOR.role };

const standIn = (handled: Readonly<Record<string, bigint>>) => {
  const events: RecordedEvent[] = [];
  for (let i = 1; i <= 10; i++) {
    events.push({ id: `e-${i}`, streamId: `s-${i}`, revision: 0n, position: BigInt(i), type: 'CredentialRevoked', data: {}, metadata: { actor: operatorActor, causationId: `cmd-${i}` } });
  }
  let head = 10n;
  const cascadesRevocation: RecordedEvent = { id: 'e-11', streamId: 's-11', revision: 0n, position: 11n, type: 'AssociationRevoked', data: {}, metadata: { actor: cascadeActor, causationId: 'e-10' } };
  const waits: (readonly string[])[] = [];
  const behind = (components: readonly string[]) => Math.max(0, ...components.map((c) => Number(head - (handled[c] ?? 0n))));
  const context = {
    credence: {
      store: {
        headPosition: async () => head,
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
      lag: (components: readonly string[]) => ({ eventsBehind: behind(components), secondsBehind: 0 }),
      caughtUp: async (position: bigint, _timeoutMs: number, components: readonly string[]) => {
        waits.push(components);
        // The cascade's revocation of what the request found is stored once the request has read the head.
        if (head === 10n) {
          events.push(cascadesRevocation);
          head = 11n;
        }
        return components.every((c) => (handled[c] ?? 0n) >= position);
      },
    },
    limits: { readyMaxLagEvents: 1_000 },
  } as unknown as ServiceContext;
  const headers: Record<string, string> = {};
  const reply = { header: (k: string, v: string) => ((headers[k] = v), reply) } as unknown as FastifyReply;
  return { context, reply, headers, waits };
};

describe("a revocations answer and the cascade's revocations the audit trail has not reached", () => {
  it('is behind while the audit trail lacks a cascade revocation compliance holds', async () => {
    const { context, reply, headers, waits } = standIn({ audit: 10n, compliance: 11n, cascade: 11n });
    const eventsBehind = await complianceEventsBehindInto(context, reply, 'revocations');
    expect(eventsBehind).toBeGreaterThan(0);
    expect(headers['credence-events-behind']).toBe(String(eventsBehind));
    // It waited for the cascade's revocation on the audit trail too.
    expect(waits.at(-1)).toContain('audit');
  });

  it('is 0 once every read model it reads has the cascade revocation', async () => {
    const { context, reply, headers } = standIn({ audit: 11n, compliance: 11n, cascade: 11n });
    expect(await complianceEventsBehindInto(context, reply, 'revocations')).toBe(0);
    expect(headers['credence-events-behind']).toBe('0');
  });
});
