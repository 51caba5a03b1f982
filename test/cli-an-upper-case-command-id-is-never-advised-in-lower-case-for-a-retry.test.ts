import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

/*
 * Review 245: the CLI refuses an upper-case --command-id before sending it (exit 2) and advised the lower-case id; but
 * a command an earlier version recorded under the upper-case id is answered only under it as sent, and the lower-case
 * id is another command: following the advice to retry it did it a second time. The refusal gives the lower-case id
 * for a new command only, and says how such an old command is retried safely.
 */
const UPPER = '6F1D2C3B-4A59-4E8F-9B7A-0C1D2E3F4A5B';

describe('an upper-case --command-id', () => {
  it('is exit 2 before anything is sent, never advising the lower-case id to retry an earlier command', async () => {
    const result = await runCli(['node', 'revoke', 'meter-1', '--reason', 'keyCompromise', '--server', 'http://127.0.0.1:9', '--token', 'a.b.c', '--command-id', UPPER]);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`for a new command, give ${UPPER.toLowerCase()}`);
    expect(result.err).toContain(`never to retry a command sent under ${UPPER}`);
    expect(result.err).toContain(`send it under ${UPPER} as recorded to POST /v1/commands`);
  });
});
