/**
 * Review 186 item 1: an option whose value was left out took the next flag as its value, and a free-text one recorded
 * it for good: `subscription terminate sub-1 --reason --json` exited 0 with an event whose reason is "--json";
 * `pseudonym resolve p-… --reason --json` named the node under a resolution recorded with reason "--json"; `node
 * register … --class --json` registered class "--json". Now such a value, given as its own word, is bad usage (exit 2)
 * naming the option and the `=` form, and nothing is sent; a value that really starts with a dash is written
 * `--reason=-x` and taken.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { closedPort } from './support/closed-port.ts';
import { startTestService, type TestService } from './support/service.ts';

describe('a free-text option given a word that looks like an option', () => {
  let svc: TestService;
  const cli = async (argv: string[], token = svc.tokens.operator) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env: { CREDENCE_URL: svc.url, CREDENCE_TOKEN: token } });
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  };
  const stream = (id: string) => svc.service.context.credence.store.readStream(id);

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('is refused (exit 2) naming the option and the = form, and nothing is recorded', async () => {
    expect((await cli(['subscription', 'create', 'sub-1', '--subscriber', 'City', '--not-after', '2030-01-01T00:00:00Z'])).code).toBe(0);
    const before = await stream('subscription-sub-1');
    const cases: readonly (readonly [readonly string[], string])[] = [
      [['subscription', 'terminate', 'sub-1', '--reason', '--json'], '--reason'],
      [['subscription', 'create', 'sub-2', '--subscriber', '--json', '--not-after', '2030-01-01T00:00:00Z'], '--subscriber'],
      [['node', 'register', 'gw-50', '--manufacturer', 'm', '--model', 'x', '--class', '--json'], '--class'],
      [['node', 'register', 'gw-51', '--manufacturer', '--json', '--model', 'x', '--class', 'c'], '--manufacturer'],
      [['node', 'register', 'gw-52', '--manufacturer', 'm', '--model', '-x', '--class', 'c'], '--model'],
      [['application', 'register', 'Rbill', '--name', '--json', '--provider', 'Acme'], '--name'],
      [['application', 'register', 'Rbill', '--name', 'Billing', '--provider', '--json'], '--provider'],
      [['node', 'register', 'gw-53', '--manufacturer', 'm', '--model', 'x', '--class', 'c', '--correlation-id', '--json'], '--correlation-id'],
      [['node', 'register', 'gw-54', '--manufacturer', 'm', '--model', 'x', '--class', 'c', '--causation-id', '--json'], '--causation-id'],
    ];
    for (const [argv, flag] of cases) {
      const r = await cli([...argv]);
      const value = argv[argv.indexOf(flag) + 1]!;
      expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toContain(`error: ${flag}: ${value} looks like an option (was the value left out?); write ${flag}=${value} for a value that really starts with -`);
    }
    expect(await stream('subscription-sub-1')).toEqual(before);
    for (const id of ['subscription-sub-2', 'node-gw-50', 'node-gw-51', 'node-gw-52', 'node-gw-53', 'node-gw-54', 'application-Rbill']) expect(await stream(id), id).toEqual([]);
  });

  it('pseudonym resolve --reason --json: refused before anything is sent (no server needed to refuse it)', async () => {
    const c = capture();
    const url = `http://127.0.0.1:${await closedPort()}`;
    const code = await main(['pseudonym', 'resolve', `p-${'a'.repeat(26)}`, '--reason', '--json'], { ...c.io, env: { CREDENCE_URL: url, CREDENCE_TOKEN: 'a.b.c' } });
    expect(code, c.err.join('\n')).toBe(2);
    expect(c.err.join('\n')).toContain('error: --reason: --json looks like an option (was the value left out?); write --reason=--json for a value that really starts with -');
  });

  it('the = form is taken: a reason that really starts with a dash is recorded', async () => {
    expect((await cli(['subscription', 'create', 'sub-3', '--subscriber', 'City', '--not-after', '2030-01-01T00:00:00Z'])).code).toBe(0);
    const r = await cli(['subscription', 'terminate', 'sub-3', '--reason=-moved to the new contract', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).events[0].data.reason).toBe('-moved to the new contract');
    const node = await cli(['node', 'register', 'gw-60', '--manufacturer=-m', '--model', 'x', '--class', 'c', '--json']);
    expect(node.code, node.err).toBe(0);
    expect(JSON.parse(node.out).events[0].data.profile.manufacturer).toBe('-m');
  });
});
