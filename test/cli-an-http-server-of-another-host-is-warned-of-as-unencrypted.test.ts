/**
 * Review 301: `--server http://credence.example.org:8080` sent the bearer token and every command over the network in
 * clear text with nothing said, where a `--token` in the process list is warned of. An http:// URL of a host other
 * than this machine's loopback is warned of on stderr, once, never with the token; loopback and https:// are not.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

const LIST = ['token', 'list', '--token', 'eyJ.secret-value.sig', '--timeout', '1'];
const WARNING = 'the bearer token and every command go over the network unencrypted';

describe('an http:// server of another host', () => {
  it('is warned of as unencrypted, naming the option, never the token', async () => {
    const { err } = await runCli([...LIST, '--server', 'http://192.0.2.1:9']);
    expect(err).toContain(`warning: --server: an http:// URL of another host than this one: ${WARNING}`);
    expect(err.split(WARNING)).toHaveLength(2);
    expect(err).not.toContain('secret-value');
  });

  it('from CREDENCE_URL too, naming the variable', async () => {
    const { err } = await runCli(LIST, { CREDENCE_URL: 'http://192.0.2.1:9' });
    expect(err).toContain(`warning: CREDENCE_URL: an http:// URL of another host than this one: ${WARNING}`);
  });

  it.each(['http://127.0.0.1:9', 'http://localhost:9', 'http://[::1]:9', 'https://192.0.2.1:9'])('is not said of %s', async (server) => {
    const { err } = await runCli([...LIST, '--server', server]);
    expect(err).not.toContain(WARNING);
  });
});
