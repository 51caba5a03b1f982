import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';

/*
 * Found in review 54: `credence verify --key K` with only CREDENCE_URL set (as for every other command that reads a
 * server) answered "give exactly one of --data DIR, FILE.json, --event or --from/--to": verification is offline unless
 * --server is given explicitly, and the message did not say so.
 */
describe('credence verify with no mode', () => {
  it('names --server URL among the modes, and says CREDENCE_URL alone does not verify against a server (exit 2)', async () => {
    const c = capture();
    const code = await main(['verify', '--key', 'credence+0a0b0c0d+AAAA'], { ...c.io, env: { CREDENCE_URL: 'http://127.0.0.1:9', CREDENCE_TOKEN: 'a.b.c' } });
    expect(code).toBe(2);
    expect(c.err.join('\n')).toMatch(/give exactly one of --data DIR, FILE\.json, --event or --from\/--to, or --server URL to verify against a server \(CREDENCE_URL alone does not/);
  });
});
