import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { enrolledSoAlready } from '../bin/commands/node-enrol-unchanged.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 295: a rerun of `credence node enrol` (an idempotent provisioning script) appended another NodeEnrolled that
 * changed nothing. Machines v12 refused it (409, exit 1), which review 307 found broke those scripts and left a replay
 * finding nothing clears; the rule is out, and the CLI reads the node first instead: enrolled or associated under the
 * subscription and CSE-ID asked, it says so and sends nothing (exit 0). A new CSE-ID or another subscription is sent.
 */
describe('credence node enrol again under its subscription and CSE-ID', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });
  const cli = async (argv: string[], env: Record<string, string> = {}) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env: { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.operator, ...env } });
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  };
  /** Every event of the log, once the service's reactions (the pseudonym's first rotation) are done. */
  const eventCount = async (): Promise<number> => {
    await svc.service.context.credence.settle();
    let n = 0;
    for await (const _ of svc.service.context.credence.store.readAll()) n++;
    return n;
  };
  const enrolments = async (nodeId: string) =>
    (await svc.service.context.credence.store.readStream(`node-${nodeId}`)).filter((e) => e.type === 'NodeEnrolled').map((e) => `${e.data['subscriptionId']} ${e.data['cseId']}`);

  beforeAll(async () => {
    for (const argv of [
      ['subscription', 'create', 'city', '--subscriber', 'City Utilities', '--not-after', '2030-01-01T00:00:00Z'],
      ['subscription', 'create', 'port', '--subscriber', 'Port Authority', '--not-after', '2030-01-01T00:00:00Z'],
      ['node', 'register', 'meter-1', '--class', 'smart-meter', '--manufacturer', 'Acme', '--model', 'SM-10'],
      ['node', 'register', 'meter-2', '--class', 'smart-meter', '--manufacturer', 'Acme', '--model', 'SM-10'],
      ['node', 'enrol', 'meter-1', '--subscription', 'city', '--cse-id', '/meter-1-cse'],
      ['node', 'enrol', 'meter-2', '--subscription', 'city', '--cse-id', '/meter-2-cse'],
    ]) {
      const r = await cli(argv);
      expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(0);
    }
  });

  it('says the node is enrolled so already, exits 0 and writes nothing', async () => {
    const before = await eventCount();
    const again = await cli(['node', 'enrol', 'meter-1', '--subscription', 'city', '--cse-id', '/meter-1-cse']);
    expect(again, again.err).toMatchObject({ code: 0, err: '' });
    expect(again.out).toBe('node meter-1 is already enrolled under subscription city with CSE-ID /meter-1-cse; nothing sent');
    expect(await eventCount()).toBe(before);
    expect(await enrolments('meter-1')).toEqual(['city /meter-1-cse']);
  });

  it('with --json, the entity as read: its state and revision, and nothing sent', async () => {
    const before = await eventCount();
    const again = await cli(['node', 'enrol', 'meter-1', '--subscription', 'city', '--cse-id', '/meter-1-cse', '--json']);
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(again.out)).toEqual({
      sent: false, streamId: 'node-meter-1', state: 'enrolled', revision: expect.stringMatching(/^\d+$/), subscriptionId: 'city', cseId: '/meter-1-cse', events: [],
    });
    expect(await eventCount()).toBe(before);
  });

  it('sends a new CSE-ID under the same subscription, and a move to another subscription, as before', async () => {
    const cse = await cli(['node', 'enrol', 'meter-2', '--subscription', 'city', '--cse-id', '/meter-2-cse-b']);
    expect(cse.code, cse.err).toBe(0);
    expect(cse.out).toMatch(/^enrolNode: node-meter-2 is now enrolled \(NodeEnrolled @\d+\)$/);
    const moved = await cli(['node', 'enrol', 'meter-2', '--subscription', 'port', '--cse-id', '/meter-2-cse-b']);
    expect(moved.code, moved.err).toBe(0);
    expect(moved.out).toMatch(/^enrolNode: node-meter-2 is now enrolled \(NodeEnrolled @\d+\)$/);
    expect(await enrolments('meter-2')).toEqual(['city /meter-2-cse', 'city /meter-2-cse-b', 'port /meter-2-cse-b']);
  });

  it('sends the command as before when the read is refused or fails: the duplicate is recorded, as the API records one', async () => {
    // A proxy in front of the service that refuses every entity read (403) or fails it (503), and passes the rest on.
    for (const status of [403, 503]) {
      const proxy = createServer((request, response) => {
        if (request.method === 'GET' && request.url?.startsWith('/v1/entities/') === true) {
          response.writeHead(status, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'about:blank', title: 'no', status }));
          return;
        }
        const chunks: Buffer[] = [];
        request.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
          const headers = Object.fromEntries(Object.entries(request.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k))) as Record<string, string>;
          void fetch(`${svc.url}${request.url}`, { method: request.method!, headers, ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}) }).then(async (answer) => {
            response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await answer.arrayBuffer()));
          });
        });
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      try {
        const before = await enrolments('meter-1');
        const sent = await cli(['node', 'enrol', 'meter-1', '--subscription', 'city', '--cse-id', '/meter-1-cse'], { CREDENCE_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
        expect(sent.code, sent.err).toBe(0);
        expect(sent.out).toMatch(/^enrolNode: node-meter-1 is now enrolled \(NodeEnrolled @\d+\)$/);
        expect(await enrolments('meter-1')).toEqual([...before, 'city /meter-1-cse']);
      } finally {
        await new Promise((resolve) => proxy.close(resolve));
      }
    }
  });

  it('sends the command for a node not enrolled so: the server refuses an unknown node as before', async () => {
    const unknown = await cli(['node', 'enrol', 'meter-9', '--subscription', 'city', '--cse-id', '/meter-9-cse']);
    expect(unknown.code).toBe(1);
    expect(unknown.out).toBe('');
    expect(unknown.err).toMatch(/^refused: Not found \(404\)$/m);
  });
});

describe('what node enrol reads as enrolled so already', () => {
  const node = (over: Record<string, unknown>) => ({
    streamId: 'node-meter-1', kind: 'node', id: 'meter-1', state: 'enrolled', revision: '3', position: '40',
    context: { nodeId: 'meter-1', liveAssociations: [], subscriptionId: 'city', cseId: '/meter-1-cse' }, ...over,
  });
  const asked = { subscriptionId: 'city', cseId: '/meter-1-cse' };

  it('an enrolled or associated node under the subscription and CSE-ID asked', () => {
    expect(enrolledSoAlready(node({}), asked)).toMatchObject({ state: 'enrolled', revision: '3' });
    expect(enrolledSoAlready(node({ state: 'associated' }), asked)).toMatchObject({ state: 'associated' });
  });

  it('not a node in another state, under another subscription or CSE-ID, with a broken stream, or an answer of another shape', () => {
    for (const state of ['initialized', 'expired', 'revoked']) expect(enrolledSoAlready(node({ state }), asked), state).toBeUndefined();
    expect(enrolledSoAlready(node({}), { ...asked, subscriptionId: 'port' })).toBeUndefined();
    expect(enrolledSoAlready(node({}), { ...asked, cseId: '/other' })).toBeUndefined();
    expect(enrolledSoAlready(node({ broken: { reason: 'refused by rule x' } }), asked)).toBeUndefined();
    expect(enrolledSoAlready(node({ context: { nodeId: 'meter-1' } }), asked)).toBeUndefined();
    expect(enrolledSoAlready(undefined, asked)).toBeUndefined();
  });
});
