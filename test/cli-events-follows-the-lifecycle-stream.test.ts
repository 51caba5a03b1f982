import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { closedPort } from './support/closed-port.ts';
import { useTestService, type TestService } from './support/service.ts';

// Review 54 finding 3: docs/service.md named `credence events`, which did not exist. It follows GET /v1/events.

type Run = { code: number; out: string[]; err: string[] };

/** `credence <argv>` in this process, with what it prints readable while it runs. */
const start = (argv: string[]): { readonly done: Promise<Run>; readonly out: string[]; readonly err: string[] } => {
  const c = capture();
  const done = main(argv, { ...c.io, env: {} }).then((code) => ({ code, out: c.out, err: c.err }));
  return { done, out: c.out, err: c.err };
};
const cli = (argv: string[]): Promise<Run> => start(argv).done;

const until = async (check: () => boolean, what: string, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

const seed = async (svc: TestService, nodeId: string): Promise<void> => {
  const operate = async (...argv: string[]) => {
    const r = await cli([...argv, '--server', svc.url, '--token', svc.tokens.operator]);
    expect(r.code, `${argv.join(' ')}: ${r.err.join('\n')}`).toBe(0);
  };
  await operate('subscription', 'create', `city-${nodeId}`, '--subscriber', 'City', '--not-before', '2020-01-01T00:00:00Z', '--not-after', '2040-01-01T00:00:00Z');
  await operate('node', 'register', nodeId, '--class', 'smart-meter', '--manufacturer', 'Acme', '--model', 'SM-10');
  await operate('node', 'enrol', nodeId, '--subscription', `city-${nodeId}`, '--cse-id', `/${nodeId}-cse`);
  await operate('node', 'revoke', nodeId, '--reason', 'keyCompromise');
};

// A line starts with the event's id as the stream sent it, `@<position>~<tag>` (review 206: the position alone).
const LINE = /^@(\d+)~[0-9a-f]{8} (\S+) (\w+) +(\S+)$/;
const positionsOf = (lines: readonly string[]): bigint[] => lines.map((l) => BigInt(LINE.exec(l)?.[1] ?? 'x'));
const idsOf = (lines: readonly string[]): string[] => lines.map((l) => /^@(\S+) /.exec(l)?.[1] ?? 'x');

describe('credence events', () => {
  const svc = useTestService();
  const as = (role: 'auditor' | 'integrator', ...argv: string[]) => ['events', '--server', svc.url, '--token', svc.tokens[role], ...argv];
  // The seed's own events: an enrolment also rotates the node's pseudonym (a pseudonym stream's event).
  const seeded = (role: 'auditor' | 'integrator', ...argv: string[]) => as(role, '--kind', 'subscription', 'node', ...argv);

  it('prints the events in order, one line each, and stops at --limit', async () => {
    await seed(svc, 'meter-1');
    const r = await cli(seeded('auditor', '--limit', '4'));
    expect(r.code, r.err.join('\n')).toBe(0);
    expect(r.out).toHaveLength(4);
    for (const line of r.out) expect(line).toMatch(LINE);
    const positions = positionsOf(r.out);
    for (let i = 1; i < positions.length; i++) expect(positions[i]! > positions[i - 1]!).toBe(true);
    expect(r.out[0]).toMatch(/^@\d+~[0-9a-f]{8} \d{4}-\d\d-\d\dT\S+Z SubscriptionCreated +subscription-city-meter-1$/);
    expect(r.out[3]).toMatch(/ NodeRevoked +node-meter-1$/);
  });

  it('--json prints one JSON object per line, as the server sends it', async () => {
    const r = await cli(seeded('auditor', '--json', '--limit', '4'));
    expect(r.code, r.err.join('\n')).toBe(0);
    const events = r.out.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events.map((e) => e['type'])).toEqual(['SubscriptionCreated', 'NodeRegistered', 'NodeEnrolled', 'NodeRevoked']);
    expect(events[3]).toMatchObject({ streamId: 'node-meter-1', data: { nodeId: 'meter-1', reason: 'keyCompromise' }, metadata: { actor: { id: 'test-operator' } } });
    expect(typeof events[0]!['position']).toBe('string');
  });

  it('passes --kind, --type, --stream and --from to the server', async () => {
    const revoked = await cli(as('auditor', '--kind', 'node', '--type', 'NodeRevoked', 'NodeEnrolled', '--limit', '2'));
    expect(revoked.code, revoked.err.join('\n')).toBe(0);
    expect(revoked.out.map((l) => LINE.exec(l)?.slice(3))).toEqual([['NodeEnrolled', 'node-meter-1'], ['NodeRevoked', 'node-meter-1']]);

    // Repeated, as the README writes it, the same as one list.
    const repeated = await cli(as('auditor', '--kind', 'node', '--type', 'NodeRevoked', '--type', 'NodeEnrolled', '--limit', '2'));
    expect(repeated.out).toEqual(revoked.out);

    const stream = await cli(as('auditor', '--stream', 'subscription-city-meter-1', '--limit', '1'));
    expect(stream.out).toEqual([expect.stringMatching(/ SubscriptionCreated +subscription-city-meter-1$/)]);

    // A position resumes strictly after it: the last one printed, given back, goes on from the next.
    const [first, second] = positionsOf((await cli(as('auditor', '--limit', '2'))).out);
    const resumed = await cli(as('auditor', '--from', String(first), '--limit', '1'));
    expect(positionsOf(resumed.out)).toEqual([second]);
  });

  it('--from end prints only what is appended after it started', async () => {
    const head = svc.service.context.credence.store;
    const before = (await head.headPosition())!;
    const run = start(as('auditor', '--from', 'end', '--kind', 'subscription', '--limit', '1'));
    // The stream opens at the head of its time: appended until one arrives after it.
    for (let i = 0; run.out.length === 0 && i < 100; i++) {
      await cli(['subscription', 'create', `late-${i}`, '--subscriber', 'City', '--not-before', '2020-01-01T00:00:00Z', '--not-after', '2040-01-01T00:00:00Z', '--server', svc.url, '--token', svc.tokens.operator]);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const r = await run.done;
    expect(r.code, r.err.join('\n')).toBe(0);
    expect(positionsOf(r.out)[0]! > before).toBe(true);
    expect(r.out[0]).toMatch(/ SubscriptionCreated +subscription-late-\d+$/);
    // Where it started is said once, on stderr: the head when the stream opened, before the event printed.
    const told = r.err.filter((line) => line.startsWith('note: following from the end'));
    expect(told).toHaveLength(1);
    const startedAfter = BigInt(/after @(\d+)~[0-9a-f]{8},/.exec(told[0]!)![1]!);
    expect(startedAfter >= before && startedAfter < positionsOf(r.out)[0]!).toBe(true);
  });

  it('gives an integrator the pseudonymised stream, and refuses it the canonical one (exit 1, the problem printed)', async () => {
    const r = await cli(seeded('integrator', '--json', '--limit', '4'));
    expect(r.code, r.err.join('\n')).toBe(0);
    const events = r.out.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events.map((e) => e['type'])).toEqual(['SubscriptionCreated', 'NodeRegistered', 'NodeEnrolled', 'NodeRevoked']);
    for (const e of events) expect(Object.keys(e)).not.toContain('streamId');
    expect(r.out.join('\n')).not.toContain('meter-1');
    const human = await cli(as('integrator', '--limit', '1'));
    expect(human.out[0]).toMatch(/^@\d+~[0-9a-f]{8} \d{4}-\d\d-\d\dT00:00:00\.000Z SubscriptionCreated +sub-\S+$/);
    expect(human.out[0]).not.toContain('city-meter-1');

    const canonical = await cli(as('integrator', '--identifiers', 'canonical', '--limit', '1'));
    expect(canonical.code).toBe(1);
    expect(canonical.out).toEqual([]);
    expect(canonical.err.join('\n')).toMatch(/^refused: .*\(403\)\n.*pseudonymised identifiers only/);
  });

  it('ends with exit 1 and the problem when its token is revoked while it follows', async () => {
    const issued = await svc.service.context.access.issue({ subject: 'events-revoked', role: 'auditor', ttlSeconds: 3600, issuedBy: 'test' });
    const run = start(['events', '--server', svc.url, '--token', issued.token, '--kind', 'node']);
    await until(() => run.out.length >= 3, 'the node events');
    const revoked = await fetch(new URL(`/v1/tokens/${issued.tokenId}`, svc.url), { method: 'DELETE', headers: { authorization: `Bearer ${svc.tokens.admin}` } });
    expect(revoked.ok).toBe(true);
    const r = await run.done;
    expect(r.code).toBe(1);
    const last = idsOf(r.out).at(-1);
    expect(r.err[0]).toBe(`note: the server ended the stream: the token was revoked or has expired (the last event printed: @${last}); resume with --from and a new token`);
    expect(r.err.join('\n')).toMatch(/^refused: .*\(401\)$/m);
  });

  it('exits 1 with the problem when the token is refused', async () => {
    const r = await cli(['events', '--server', svc.url, '--token', 'not-a-credence-token', '--limit', '1']);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([]);
    expect(r.err[0]).toMatch(/^refused: .*\(401\)$/);
  });

  it('refuses a bad --from, --limit, --kind, --type or --stream as bad usage naming the option (exit 2)', async () => {
    for (const [argv, named] of [
      [['--from', 'yesterday'], /^error: --from: must be start, end or an event position/],
      [['--from', '99999999999999999999'], /^error: --from: /],
      [['--limit', '0'], /^error: --limit: /],
      [['--limit', '1e3'], /^error: --limit: /],
      [['--kind', 'meter'], /^error: --kind\.0: /],
      [['--type', 'NodeExploded'], /^error: --type\.0: NodeExploded is not an event type/],
      [['--stream', 'meter-1'], /^error: --stream\.0: must be <kind>-<id>/],
      [['--identifiers', 'plain'], /^error: --identifiers: /],
    ] as const) {
      const r = await cli(as('auditor', ...argv));
      expect([r.code, r.err.join('\n')], argv.join(' ')).toEqual([2, expect.stringMatching(named)]);
      expect(r.out).toEqual([]);
    }
    expect((await cli(['events', '--limit', '1'])).err.join('\n')).toMatch(/--server: required/);
  });

  it('exits 3 when the server cannot be reached', async () => {
    const r = await cli(['events', '--server', `http://127.0.0.1:${await closedPort()}`, '--token', 'abc', '--limit', '1']);
    expect(r.code).toBe(3);
    expect(r.err[0]).toMatch(/^error: cannot reach http:\/\/127\.0\.0\.1:\d+/);
  });
});

describe('credence events across a server restart', () => {
  const svc = useTestService();

  it('resumes with Last-Event-ID: every event once, in order, and a note on stderr', async () => {
    await seed(svc, 'meter-2');
    const run = start(['events', '--server', svc.url, '--token', svc.tokens.auditor, '--kind', 'subscription', 'node', '--limit', '8']);
    await until(() => run.out.length >= 4, 'the first four events');
    expect(run.out).toHaveLength(4);
    await svc.restart();
    await seed(svc, 'meter-3');
    const r = await run.done;
    expect(r.code, r.err.join('\n')).toBe(0);
    expect(r.out).toHaveLength(8);
    const positions = positionsOf(r.out);
    for (let i = 1; i < positions.length; i++) expect(positions[i]! > positions[i - 1]!).toBe(true);
    expect(r.out[4]).toMatch(/ SubscriptionCreated +subscription-city-meter-3$/);
    expect(r.err.join('\n')).toMatch(new RegExp(`^note: reconnecting in \\d+\\.\\d s, resuming after @${idsOf(r.out)[3]}$`, 'm'));
  }, 60_000);
});

describe('credence events in a terminal', () => {
  const svc = useTestService();

  it('ends at Ctrl-C (SIGINT) with exit 0 and every line it printed', async () => {
    await seed(svc, 'meter-4');
    const child = spawn(process.execPath, [fileURLToPath(new URL('../bin/credence.mjs', import.meta.url)), 'events', '--kind', 'node'], {
      env: { ...process.env, CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.auditor },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => void (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => void (err += chunk.toString('utf8')));
    const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
    try {
      await until(() => out.split('\n').length > 3, 'the node events', 30_000);
      child.kill('SIGINT');
      expect(await exited, err).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    expect(out.trimEnd().split('\n').map((l) => LINE.exec(l)?.[3])).toEqual(['NodeRegistered', 'NodeEnrolled', 'NodeRevoked']);
  }, 60_000);
});
