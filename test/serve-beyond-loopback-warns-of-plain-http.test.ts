/**
 * Review 373 #2: `credence serve --host 0.0.0.0` said nothing of TLS, while bearer tokens reach that address in clear
 * text (the CLI client warns of an http:// URL of another host: review 301). A service bound beyond loopback now warns
 * once, on its banner and at warn in its log, pointing to the TLS-terminating proxy; with an https:// public URL it
 * says the proxy must terminate TLS and the hop to the service be private. Bound to loopback, it says nothing of it.
 */
import { describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from './support/serve-process.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-serve-beyond-loopback-');

/** The warn lines of serve's JSON log (stdout) about plain HTTP, once the banner is out and the log has caught up. */
const plainHttpLogLines = async (serve: ServeProcess): Promise<{ level: number; msg: string }[]> => {
  const lines = () =>
    serve.out
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .filter((line) => /plain HTTP/.test(line.msg));
  // The log is written before the banner, but through its own stream: a moment for it to arrive.
  for (let tries = 0; tries < 50 && lines().length === 0; tries += 1) await new Promise((resolve) => setTimeout(resolve, 100));
  return lines();
};

const served = async (args: string[], check: (serve: ServeProcess) => Promise<void>): Promise<void> => {
  const serve = startServe(['--data', scratch(), '--port', '0', '--log-level', 'warn', ...args], { PORT: '' }, /^ {2}Ctrl-C/m);
  try {
    await serve.ready;
    await check(serve);
  } finally {
    serve.child.kill('SIGTERM');
  }
  expect(await serve.exitCode()).toBe(0);
};

describe('serve bound beyond loopback', () => {
  it('warns once, on its banner and in its log, that tokens cross the network in clear, pointing to the TLS proxy', async () => {
    await served(['--host', '0.0.0.0'], async (serve) => {
      const warnings = serve.err.split('\n').filter((line) => /plain HTTP/.test(line));
      expect(warnings, serve.err).toHaveLength(1);
      expect(warnings[0]).toMatch(/^warning: .*0\.0\.0\.0.*plain HTTP.*bearer tokens.*TLS-terminating proxy.*docs\/service\.md/);
      const logged = await plainHttpLogLines(serve);
      expect(logged, serve.out).toHaveLength(1);
      expect(logged[0]!.level).toBe(40);
    });
  }, 90_000);

  it('with an https:// public URL, says the proxy must terminate TLS and the hop to the service be private', async () => {
    await served(['--host', '0.0.0.0', '--public-url', 'https://credence.example.org'], async (serve) => {
      const warnings = serve.err.split('\n').filter((line) => /plain HTTP/.test(line));
      expect(warnings, serve.err).toHaveLength(1);
      expect(warnings[0]).toMatch(/https:\/\/credence\.example\.org.*proxy.*terminate TLS.*private/);
      expect(await plainHttpLogLines(serve)).toHaveLength(1);
    });
  }, 90_000);

  it('says nothing of it bound to loopback', async () => {
    await served(['--host', '127.0.0.1'], async (serve) => {
      expect(serve.err).not.toMatch(/plain HTTP/);
      expect(serve.out).not.toMatch(/plain HTTP/);
    });
  }, 90_000);
});
