/**
 * Review 218 item 4: a `<stream>` was parsed into a kind and an id without the id's own rule, so `node-..` resolved
 * to another route of the server (`no route GET /v1/replay/`, `/v1/entities/state`, `/v1/transparency/evidence/`),
 * and `node-a/b` or an id ending in CR came back as the server's `params.id` refusal (exit 1). Each is now bad usage
 * (exit 2) naming `<stream>`, said by the domain's id rule, an invisible character by its code point, and nothing is
 * sent (the server given here listens nowhere: a request would be exit 3).
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

const NOWHERE = ['--server', 'http://127.0.0.1:10', '--token', 'not-sent'];

describe('a <stream> whose id breaks the domain id rule', () => {
  it.each<string[]>([
    ['history', 'node-..'],
    ['state', 'node-..', '--at', '2026-01-01T00:00:00Z'],
    ['export', 'node-..'],
    ['history', 'node-a/b'],
    ['history', 'node-.'],
    ['history', 'application-billing'],
  ])('%s %s is exit 2 naming <stream>, nothing sent', async (command, stream, ...more) => {
    const run = await runCli([command!, stream!, ...more, ...NOWHERE]);
    expect(run.err).toMatch(/<stream>: /);
    expect(run.code).toBe(2);
  });

  it('names an invisible character by its code point and index', async () => {
    const run = await runCli(['history', 'node-x\r', ...NOWHERE]);
    expect(run.code).toBe(2);
    expect(run.err).toContain('<stream>: holds U+000D at index 6');
  });

  it('still reads a stream whose id keeps the rule (a dot inside it too)', async () => {
    const run = await runCli(['history', 'node-meter-1.a', ...NOWHERE]);
    expect(run.code).toBe(3);
  });
});
