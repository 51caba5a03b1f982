import { request } from '../adapters/client/http.ts';
import { subscribeEvents } from '../adapters/client/sse.ts';
import type { ServerChild } from './http-child.ts';
import type { Chain } from './http-server.ts';
import { fmtMs, now, summarise } from './stats.ts';
import { placeholderKey } from '../test/support/fleet.ts';

/**
 * Item 2 of the http suite: a node revoked with POST /v1/commands, seen by an SSE client on GET /v1/events across
 * loopback, with the cascade running live in the server (the process manager revokes the node's credentials, then
 * their associations). Each node has two credentials, each with an established association; the clock starts
 * before the POST and stops at the arrival of the node's revocation, of its last credential's and of its last
 * association's.
 */
const SAMPLES = Number(process.env['BENCH_HTTP_REVOCATIONS'] ?? 200);
const WARM_UP = 10;
const HANG_GUARD_MS = 10_000;
const DAY = 86_400_000;
const fromNow = (days: number) => new Date(Date.now() + days * DAY).toISOString();

const nodeChain = (nodeId: string): Chain => {
  const chain: [Chain[number][0], Record<string, unknown>][] = [
    ['registerNode', { nodeId, profile: { class: 'gateway', manufacturer: 'Acme', model: 'GW-1', capabilities: [] } }],
    ['enrolNode', { nodeId, subscriptionId: 'rev-sub', cseId: `/${nodeId}` }],
  ];
  for (const k of [1, 2]) {
    const credentialId = `${nodeId}-c${k}`;
    const associationId = `${nodeId}-a${k}`;
    chain.push(
      ['issueCredential', { credentialId, kind: 'ed25519', ...placeholderKey(credentialId), purpose: 'service', owner: { kind: 'node', id: nodeId }, notBefore: fromNow(-1), notAfter: fromNow(90) }],
      ['provisionCredential', { credentialId, method: 'pre-provisioning' }],
      ['configureAssociation', { associationId, nodeId, credentialId, registree: { kind: 'cse', id: `/${nodeId}` }, registrarCseId: '/in-cse' }],
      ['establishAssociation', { associationId, expiresAt: fromNow(30) }],
    );
  }
  return chain;
};

/** When each revoked stream (`node-x`, `credential-x-c1`, ...) arrived, and a wake-up for whoever waits. */
class Arrivals {
  readonly at = new Map<string, number>();
  private waiter: (() => void) | undefined;
  record(streamId: string): void {
    this.at.set(streamId, now());
    this.waiter?.();
  }
  async until(streams: readonly string[]): Promise<boolean> {
    const deadline = now() + HANG_GUARD_MS;
    while (!streams.every((s) => this.at.has(s))) {
      if (now() > deadline) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return true;
  }
}

export const benchHttpRevocation = async (report: (line: string) => void, server: ServerChild): Promise<void> => {
  const nodes = Array.from({ length: WARM_UP + SAMPLES }, (_, i) => `gw-${i}`);
  const setupStart = now();
  await server.execute([[['createSubscription', { subscriptionId: 'rev-sub', subscriber: 'bench', notBefore: fromNow(-1), notAfter: fromNow(365) }]]]);
  for (let i = 0; i < nodes.length; i += 16) await server.execute(nodes.slice(i, i + 16).map(nodeChain));
  const setupMs = now() - setupStart;

  const arrivals = new Arrivals();
  const stop = new AbortController();
  let connected: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const path = '/v1/events?kind=node,credential,association&type=NodeRevoked,CredentialRevoked,AssociationRevoked&from=end';
  const reader = (async () => {
    for await (const event of subscribeEvents(server.url, { path, token: server.token, signal: stop.signal, onFrame: () => connected() })) {
      arrivals.record((JSON.parse(event.data) as { streamId: string }).streamId);
    }
  })();
  await ready;

  const post: number[] = [];
  const node: number[] = [];
  const credential: number[] = [];
  const association: number[] = [];
  let missed = 0;
  for (const [i, nodeId] of nodes.entries()) {
    const credentials = [`credential-${nodeId}-c1`, `credential-${nodeId}-c2`];
    const associations = [`association-${nodeId}-a1`, `association-${nodeId}-a2`];
    const t0 = now();
    await request(server.url, { path: '/v1/commands', token: server.token, body: { type: 'revokeNode', data: { nodeId, reason: 'keyCompromise' } } });
    const posted = now() - t0;
    if (!(await arrivals.until([`node-${nodeId}`, ...credentials, ...associations]))) {
      missed++;
      continue;
    }
    if (i < WARM_UP) continue;
    const at = (s: string) => arrivals.at.get(s)! - t0;
    post.push(posted);
    node.push(at(`node-${nodeId}`));
    credential.push(Math.max(...credentials.map(at)));
    association.push(Math.max(...associations.map(at)));
  }
  stop.abort();
  await reader.catch(() => undefined);

  const line = (what: string, samples: number[]) => {
    const { p50, p99, max } = summarise(samples);
    return `${what} p50 ${fmtMs(p50)}, p99 ${fmtMs(p99)}, max ${fmtMs(max)}`;
  };
  report(`revocation over HTTP to an SSE client, cascade live (node with 2 credentials, 2 associations; ${node.length} revocations, set up through the engine in ${(setupMs / 1000).toFixed(1)}s):`);
  report(`  ${line('POST /v1/commands revokeNode answered:', post)}`);
  report(`  ${line('NodeRevoked on the SSE stream:', node)}`);
  report(`  ${line('last CredentialRevoked (cascaded) on the stream:', credential)}`);
  report(`  ${line('last AssociationRevoked (cascaded) on the stream:', association)} (target p99 < 50ms)`);
  if (missed > 0) report(`  ${missed} revocations did not arrive whole within ${HANG_GUARD_MS / 1000}s`);
};
