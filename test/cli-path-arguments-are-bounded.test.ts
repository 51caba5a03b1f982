import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';

// SER-001, found in review: --data, --signing, --sign-key and verify's files were unbounded strings on several commands.
describe('file and folder arguments are bounded', () => {
  const long = `/tmp/${'a'.repeat(5000)}`;
  for (const argv of [
    ['history', 'node-meter-1', '--data', long],
    ['state', 'node-meter-1', '--at', '2026-01-01T00:00:00Z', '--data', long],
    ['replay', '--data', long],
    ['query', 'revocations', '--data', long],
    ['projections', '--data', long],
    ['export', 'node-meter-1', '--out', long],
    ['verify', '--data', long],
    ['demo', '--data', long],
  ]) {
    it(`${argv[0]} refuses a path of 5,000 characters as bad usage`, async () => {
      const c = capture();
      const code = await main(argv, { ...c.io, env: {} });
      expect(code, c.err.join('\n')).toBe(2);
      expect(c.err.join('\n')).toMatch(/4096/);
    });
  }
});
