import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

/*
 * Review 245: `credential issue` and `subscription create` with --command-id but no --not-before are exit 2 (a retry
 * must send the same time, and its default, now, differs at every run); their --help said only "default: now".
 */
describe.each([
  ['credential', 'issue'],
  ['subscription', 'create'],
])('%s %s', (group, verb) => {
  it('says in --help that --not-before is required with --command-id', async () => {
    const result = await runCli([group, verb, '--help']);
    const help = `${result.out}\n${result.err}`.replace(/\s+/g, ' ');
    expect(help).toContain('--not-before <time> start of validity (default: now) (ISO 8601), required with --command-id (a retry must send the same time)');
  });
});

describe('--command-id without --not-before', () => {
  it('is exit 2 naming --not-before', async () => {
    const result = await runCli([
      'subscription', 'create', 'sub-1', '--subscriber', 'S', '--not-after', '2030-01-01T00:00:00Z',
      '--server', 'http://127.0.0.1:9', '--token', 'a.b.c', '--command-id', '6f1d2c3b-4a59-4e8f-9b7a-0c1d2e3f4a5b',
    ]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/--not-before: required with --command-id/);
  });
});
