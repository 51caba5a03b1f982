import { expect } from 'vitest';
import { main } from '../../bin/cli.ts';
import { capture } from './cli.ts';
import type { TestService } from './service.ts';

/** The token listings of a test service as its admin reads them: GET /v1/tokens, and `credence token list` (--server or --data). */
export const tokenListings = (svc: () => TestService) => ({
  listed: async (query = ''): Promise<Array<Record<string, unknown>>> => {
    const response = await fetch(`${svc().url}/v1/tokens?limit=1000${query}`, { headers: { authorization: `Bearer ${svc().tokens.admin}` } });
    expect(response.status).toBe(200);
    return ((await response.json()) as { tokens: Array<Record<string, unknown>> }).tokens;
  },
  cliList: async (...flags: string[]) => {
    const c = capture();
    const env = flags.includes('--data') ? {} : { CREDENCE_URL: svc().url, CREDENCE_TOKEN: svc().tokens.admin };
    const code = await main(['token', 'list', ...flags], { ...c.io, env });
    return { code, out: c.out, err: c.err.join('\n') };
  },
});
