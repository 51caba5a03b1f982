/**
 * Review 150: `credence projections --server URL --signing FILE` answered (exit 0) as if the policy were heeded, while
 * `query` refuses the same combination; `query … --csv --json --server URL` printed CSV and dropped --json without a
 * word. Both are refused now (exit 2), naming the option, before anything is sent.
 */
import { describe, expect, it } from 'vitest';
import { handlerServers } from './support/canned-server.ts';
import { runCli } from './support/cli.ts';

const serve = handlerServers();

/** A server that answers every request with an empty projections status, counting them. */
const counting = async () => {
  const seen = { requests: 0, url: '' };
  seen.url = await serve((_request, response) => {
    seen.requests++;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ components: [], lag: { eventsBehind: 0, secondsBehind: 0 } }));
  });
  return seen;
};

describe('an option a read from a server would not heed', () => {
  it.each([
    ['projections --signing', ['projections', '--signing', 'policy.json'], /^error: --signing: the server holds its own signing policy/m],
    ['projections status --signing', ['projections', 'status', '--signing', 'policy.json', '--json'], /^error: --signing: the server holds its own signing policy/m],
    ['query --csv --json', ['query', 'revocations', '--csv', '--json'], /^error: --json: give --csv or --json, not both/m],
  ])('%s is refused (exit 2), naming it, and nothing is sent', async (_name, argv, said) => {
    const server = await counting();
    const run = await runCli([...argv, '--server', server.url, '--token', 'a.b.c']);
    expect([run.code, server.requests]).toEqual([2, 0]);
    expect(run.err).toMatch(said);
  });
});
