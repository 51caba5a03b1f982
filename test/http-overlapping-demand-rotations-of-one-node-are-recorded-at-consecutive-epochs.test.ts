import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { replayAll } from '../projections/replay/index.ts';
import { body, settled } from './http-conformance.fixtures.ts';
import { useTestService } from './support/service.ts';

/**
 * The script of the client process: the rotations of `bodies` sent `inFlight` at a time, each on a connection of its
 * own; their answers, in order, on stdout. Not all at once: 1,400 connections opened together by one client on a loaded
 * 2-core CI machine were reset by the kernel or the server now and then (twice at ~18-24 s, under every timeout), which
 * is not what this case is about; 200 rotations in flight over five nodes overlap as much as it needs.
 */
const BURST = `
import { request } from 'node:http';
const [url, token, bodies, inFlight] = JSON.parse(process.argv[1]);
const send = (body) => new Promise((resolve, reject) => {
  const json = JSON.stringify(body);
  const sent = request(url + '/v1/pseudonyms/rotations', {
    method: 'POST',
    agent: false,
    headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) },
  }, (response) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk) => (text += chunk));
    response.on('end', () => resolve({ status: response.statusCode, body: JSON.parse(text) }));
    response.on('error', reject);
  });
  sent.on('error', reject);
  sent.end(json);
});
const answers = new Array(bodies.length);
let next = 0;
await Promise.all(Array.from({ length: Math.min(inFlight, bodies.length) }, async () => {
  while (next < bodies.length) {
    const i = next++;
    answers[i] = await send(bodies[i]);
  }
}));
process.stdout.write(JSON.stringify(answers));
`;

/** Rotations in flight at once from the client process. */
const IN_FLIGHT = 200;

const burst = async (url: string, token: string, bodies: readonly unknown[]): Promise<{ status: number; body: Record<string, unknown> }[]> => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', BURST, JSON.stringify([url, token, bodies, IN_FLIGHT])], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as { status: number; body: Record<string, unknown> }[];
};

/**
 * Found in review 94: an on-demand rotation read the node's epoch once from the pseudonyms directory, a read model
 * that lags under load, and when the epoch it chose was taken by a rotation running beside it tried the next, up to 64
 * times from that stale start, then threw a plain Error: many overlapping rotations of the same nodes were answered
 * 500 (each failure after 64 commands and PRF derivations). Demand rotations of one node now run one at a time and
 * start past the latest epoch this process recorded for it.
 */
describe('POST /v1/pseudonyms/rotations, many at once over a few nodes', () => {
  const NODES = 300;
  const ROTATED = 5;
  const REQUESTS = 1_400;
  // The burst comes from one address and one operator, with as many connections as requests: the limits let it in,
  // so what is tested is the rotation, not the door.
  const svc = useTestService({
    config: {
      limits: {
        maxConnections: 4 * REQUESTS,
        maxConnectionsPerAddress: 4 * REQUESTS,
        rateLimitPerAddress: 100 * REQUESTS,
        rateLimitPerPrincipal: 100 * REQUESTS,
      },
    },
  });

  const post = async (path: string, json: unknown) => {
    const response = await fetch(`${svc.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(json),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('answers each one 201 and records them at distinct consecutive epochs per node', async () => {
    const { store } = svc.service.context.credence;
    for (let k = 0; k < NODES; k++) {
      expect((await post('/v1/commands', body.registerNode(`n${k}`))).status).toBe(201);
    }
    await settled(svc);

    // Sent from another process, as a client would: the service's event loop is then its own, and takes the burst in
    // faster than the pseudonym directory follows (sent from this process, the directory kept up), IN_FLIGHT at a time.
    const answers = await burst(svc.url, svc.tokens.operator, Array.from({ length: REQUESTS }, (_, k) => ({ nodeId: `n${k % ROTATED}` })));
    const statuses = new Map<number, number>();
    for (const { status } of answers) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    expect(Object.fromEntries(statuses)).toEqual({ 201: REQUESTS });
    await settled(svc);

    // Each node's rotations in the store: epoch 0 (its registration) then one per answer, no epoch twice, none skipped.
    const epochs = new Map<string, number[]>();
    for await (const record of store.readAll()) {
      if (record.type !== 'PseudonymRotated') continue;
      const { nodeId, epoch } = record.data as { nodeId: string; epoch: number };
      epochs.set(nodeId, [...(epochs.get(nodeId) ?? []), epoch]);
    }
    for (let k = 0; k < ROTATED; k++) {
      const recorded = [...(epochs.get(`n${k}`) ?? [])].sort((a, b) => a - b);
      expect(recorded).toEqual(Array.from({ length: REQUESTS / ROTATED + 1 }, (_, epoch) => epoch));
      const answered = answers.flatMap((a, i) => (i % ROTATED === k ? [a.body['epoch'] as number] : [])).sort((a, b) => a - b);
      expect(answered).toEqual(recorded.slice(1));
    }
    expect(epochs.get(`n${ROTATED}`)).toEqual([0]);
    expect((await replayAll(store)).findings).toEqual([]);
    // 116 s of 120 s on the 2-core machine at load 18 (issue 1072): the bound is for a hang, not for a busy machine.
  }, 240_000);

  it("declares the retryable refusal it answers when the node's next epochs are taken: 503 with Retry-After", async () => {
    type Doc = { paths: Record<string, Record<string, { responses: Record<string, { description: string; headers?: Record<string, unknown> }> }>> };
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as Doc;
    const declared = doc.paths['/v1/pseudonyms/rotations']!['post']!.responses['503']!;
    expect(declared.description).toContain('`rotation_busy`');
    expect(Object.keys(declared.headers ?? {})).toContain('retry-after');
  });
});
