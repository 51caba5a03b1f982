import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startServe } from './support/serve-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'credence-cli-serve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('credence serve', () => {
  it('prints the URL and the docs URL, serves, takes a token made with credence token, and stops cleanly on SIGTERM', async () => {
    const data = join(dir, 'data');
    // Both lines, which may arrive in separate chunks.
    const serve = startServe(['--data', data, '--port', '0', '--log-level', 'warn'], { PORT: '' }, /^Credence listening on (http:\/\/127\.0\.0\.1:\d+) .*\n {2}API docs: /m);
    const url = (await serve.ready)[1]!;
    try {
      expect(serve.err).toContain(`API docs: ${url}/docs`);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const issued = capture();
      expect(await main(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '10m', '--data', data], issued.io)).toBe(0);
      const replay = capture();
      expect(await main(['replay', '--json'], { ...replay.io, env: { CREDENCE_URL: url, CREDENCE_TOKEN: issued.out[0]! } })).toBe(0);
      expect(JSON.parse(replay.out.join('\n'))).toMatchObject({ ok: true });
    } finally {
      serve.child.kill('SIGTERM');
    }
    const code = await serve.exitCode();
    expect(code).toBe(0);
    expect(serve.err).toMatch(/^Credence stopped$/m);
  });

  it('says where the events live: an embedded store in another folder is not called EventStoreDB', async () => {
    const events = join(dir, 'events-elsewhere');
    const serve = startServe(['--data', join(dir, 'data-2'), '--store', `sqlite:${events}`, '--port', '0', '--log-level', 'warn'], { PORT: '' }, /^Credence listening on .*\n/m);
    try {
      await serve.ready;
      expect(serve.err).toMatch(/^Credence listening on http:\/\/\S+ \(data \S+data-2, events in the embedded store in \S+events-elsewhere\)$/m);
      expect(serve.err).not.toContain('EventStoreDB');
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect(await serve.exitCode()).toBe(0);
  });

  it('refuses a bad configuration with exit 2, naming the setting and where it came from', async () => {
    const badFile = join(dir, 'bad.json');
    writeFileSync(badFile, JSON.stringify({ limits: { bodyLimitBytes: -1 }, colour: 'blue' }));
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['serve', '--port', '70000'], {}, /^error: flag --port: /m],
      [['serve', '--log-level', 'chatty'], {}, /^error: flag --log-level: /m],
      [['serve'], { PORT: 'eighty' }, /^error: env PORT: /m],
      [['serve', '--config', badFile], {}, /file .*bad\.json: limits\.bodyLimitBytes/],
      [['serve', '--config', join(dir, 'missing.json')], {}, /missing\.json.*cannot be read/],
    ];
    for (const [argv, env, message] of cases) {
      const c = capture();
      expect(await main(argv, { ...c.io, env }), argv.join(' ')).toBe(2);
      expect(c.err.join('\n'), argv.join(' ')).toMatch(message);
    }
  });
});
