import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { problemServer } from './support/canned-server.ts';
import { capture } from './support/cli.ts';

/*
 * Review 205: a 400 printed as text named each refused field and its message but not the rule it broke (e.g.
 * canonical_key), which only --json showed; a person following the README had the message and nothing to look the
 * rule up by. Now each issue reads `<path>: <message> (rule <rule>)`; an issue that names no rule reads as before.
 */
describe('credence printing a refused field as text', () => {
  const refusing = problemServer(400);

  it('names the rule beside each issue, and leaves an issue without a rule as it was', async () => {
    const errors = [
      { path: 'body.data.publicKey', rule: 'canonical_key', message: 'must be the one encoding of this key' },
      { path: 'body.data.bogus', message: 'not allowed here' },
    ];
    refusing.body = JSON.stringify({ type: 'https://credence.dev/problems/validation', title: 'Invalid request', status: 400, detail: 'the key was refused', errors });
    const c = capture();
    const code = await main(['command', 'registerNode', '--data', '{"nodeId":"x"}'], { ...c.io, env: { CREDENCE_URL: refusing.url, CREDENCE_TOKEN: 'a.b.c' } });
    expect(code).toBe(1);
    expect(c.err).toEqual([
      'refused: Invalid request (400)',
      '  the key was refused',
      '  body.data.publicKey: must be the one encoding of this key (rule canonical_key)',
      '  body.data.bogus: not allowed here',
    ]);
  });
});
