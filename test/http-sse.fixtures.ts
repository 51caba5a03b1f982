import { randomUUID } from 'node:crypto';
import { command } from '../domain/commands/index.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/event-store.ts';
import { currentVersionOf } from '../domain/upcasters.ts';
import type { Engine } from '../adapters/engine/index.ts';
import { parseEventStream, type SseEvent, type SseFrame } from '../adapters/client/sse.ts';
import { issueCredentialData, operator } from './support/fleet.ts';
import type { TestService } from './support/service.ts';

// Shared by the test/http-sse-*.test.ts files: commands dated from the wall clock (the service's engine runs on
// it), and a raw SSE connection that records every frame.

const DAY = 86_400_000;
const HANG_GUARD_MS = 20_000;
const fromNow = (days: number): string => new Date(Date.now() + days * DAY).toISOString();

export const profile = (capabilities: readonly string[] = ['metering']) => ({ class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [...capabilities] });

/** Operator commands with dates around now, so the live expiry scheduler leaves them alone. */
export const ops = {
  createSubscription: (subscriptionId: string) =>
    command('createSubscription', { subscriptionId, subscriber: 'City Utilities', notBefore: fromNow(-1), notAfter: fromNow(365) }, { actor: operator }),
  registerNode: (nodeId: string, capabilities?: readonly string[]) => command('registerNode', { nodeId, profile: profile(capabilities) }, { actor: operator }),
  enrolNode: (nodeId: string, subscriptionId: string) => command('enrolNode', { nodeId, subscriptionId, cseId: `/cse-${nodeId}` }, { actor: operator }),
  issueCredential: (credentialId: string, nodeId: string) =>
    command('issueCredential', issueCredentialData(credentialId, nodeId, { notBefore: fromNow(-1), notAfter: fromNow(90) }), { actor: operator }),
  provisionCredential: (credentialId: string) => command('provisionCredential', { credentialId, method: 'pre-provisioning' }, { actor: operator }),
  configureAssociation: (associationId: string, credentialId: string, nodeId: string) =>
    command(
      'configureAssociation',
      { associationId, nodeId, credentialId, registree: { kind: 'cse', id: `/cse-${nodeId}` }, registrarCseId: '/in-cse' },
      { actor: operator },
    ),
  establishAssociation: (associationId: string) => command('establishAssociation', { associationId, expiresAt: fromNow(30) }, { actor: operator }),
  revokeNode: (nodeId: string) => command('revokeNode', { nodeId, reason: 'keyCompromise' }, { actor: operator }),
};

/** Creates subscriptions `<prefix>-<from>` … and returns the positions of their events. */
export const createSubscriptions = async (engine: Engine, prefix: string, count: number, from = 0): Promise<bigint[]> => {
  const positions: bigint[] = [];
  for (let i = from; i < from + count; i++) {
    const outcome = await engine.execute(ops.createSubscription(`${prefix}-${i}`));
    positions.push(...outcome.events.map((e) => e.position));
  }
  return positions;
};

/**
 * Registers nodes `<prefix>-<i>` by appending their NodeRegistered events straight to the store (each a legal first
 * event of a new stream), for backlogs large enough that the engine's pace would only slow the test down.
 */
/** The metadata of an operator's `registerNode` under `commandId`, as the engine writes it. */
export const registrationMetadata = (commandId: string) => ({
  schemaVersion: currentVersionOf('NodeRegistered'),
  actor: { id: operator.id, role: operator.role },
  commandId,
  commandType: 'registerNode',
  correlationId: commandId,
  causationId: commandId,
  occurredAt: new Date().toISOString(),
});

export const appendRegisteredNodes = async (store: EventStore, prefix: string, count: number, capabilities?: readonly string[]): Promise<string[]> => {
  const positions: string[] = [];
  for (let i = 0; i < count; i++) {
    const commandId = randomUUID();
    const metadata = registrationMetadata(commandId);
    const nodeId = `${prefix}-${i}`;
    const result = await store.appendToStream(
      `node-${nodeId}`,
      [{ id: randomUUID(), type: 'NodeRegistered', data: { nodeId, profile: profile(capabilities) }, metadata }],
      { expectedRevision: ExpectedRevision.noStream },
    );
    positions.push(result.position.toString());
  }
  return positions;
};

/**
 * Waits until the live runtime has handled the head of the store and appended nothing more (the pseudonym
 * rotation and the cascade append their own events): the history is then stable for a test to compare with.
 */
export const settled = async (svc: TestService): Promise<void> => {
  const { credence, live } = svc.service.context;
  for (let round = 0; round < 50; round++) {
    const head = await credence.store.headPosition();
    if (head === undefined) return;
    if (!(await live.caughtUp(head, HANG_GUARD_MS))) throw new Error(`the live runtime did not reach ${head}`);
    if ((await credence.store.headPosition()) === head) return;
  }
  throw new Error('the live runtime kept appending');
};

export interface RawStream {
  readonly status: number;
  readonly headers: Headers;
  /** The body of a refusal (problem+json), parsed. */
  readonly problem: Record<string, unknown> | undefined;
  readonly frames: SseFrame[];
  events(): SseEvent[];
  /** Resolves once `done()` holds; rejects with `what` after a hang guard (it asserts nothing about speed). */
  until(done: () => boolean, what: string): Promise<void>;
  /** Settles when the server ends the stream (or it is closed). */
  readonly ended: Promise<void>;
  close(): void;
}

/** GET `path` as an SSE client that never reconnects, recording every frame. */
export const openStream = async (baseUrl: string, token: string, path: string, headers: Record<string, string> = {}): Promise<RawStream> => {
  const connection = new AbortController();
  const response = await fetch(new URL(path, baseUrl), {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, ...headers },
    signal: connection.signal,
  });
  const frames: SseFrame[] = [];
  const watchers = new Set<() => void>();
  let problem: Record<string, unknown> | undefined;
  let ended: Promise<void>;
  let finished = false;
  if (!response.ok) {
    problem = (await response.json()) as Record<string, unknown>;
    finished = true;
    ended = Promise.resolve();
  } else {
    ended = (async () => {
      try {
        for await (const frame of parseEventStream(response.body!)) {
          frames.push(frame);
          for (const watch of watchers) watch();
        }
      } catch {
        // Closed by the test.
      } finally {
        finished = true;
        for (const watch of watchers) watch();
      }
    })();
  }
  return {
    status: response.status,
    headers: response.headers,
    problem,
    frames,
    events: () => frames.flatMap((f) => (f.kind === 'event' ? [{ id: f.id, event: f.event, data: f.data }] : [])),
    ended,
    until: (done, what) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (done()) finish(resolve);
          else if (finished) finish(() => reject(new Error(`stream ended before ${what}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${what}`))), HANG_GUARD_MS);
        const finish = (settle: () => void): void => {
          clearTimeout(timer);
          watchers.delete(check);
          settle();
        };
        watchers.add(check);
        check();
      }),
    close: () => connection.abort(),
  };
};

/** `data` of an event, parsed. */
export const dataOf = (event: SseEvent): Record<string, unknown> => JSON.parse(event.data) as Record<string, unknown>;
