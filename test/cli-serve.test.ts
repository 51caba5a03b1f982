import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'credence-cli-serve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CREDENCE = fileURLToPath(new URL('../bin/credence.mjs', import.meta.url));

describe('credence serve', () => {
  it('prints the URL and the docs URL, serves, takes a token made with credence token, and stops cleanly on SIGTERM', async () => {
    const data = join(dir, 'data');
    const child = spawn(process.execPath, [CREDENCE, 'serve', '--data', data, '--port', '0', '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PORT: '' },
    });
    let err = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL within 45 s: ${err}`)), 45_000);
      child.stderr.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        // Both lines, which may arrive in separate chunks.
        const found = /^Credence listening on (http:\/\/127\.0\.0\.1:\d+) .*\n {2}API docs: /m.exec(err);
        if (found !== null) {
          clearTimeout(timer);
          resolve(found[1]!);
        }
      });
      child.on('exit', () => reject(new Error(`serve ended early: ${err}`)));
    });
    try {
      expect(err).toContain(`API docs: ${url}/docs`);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const issued = capture();
      expect(await main(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '10m', '--data', data], issued.io)).toBe(0);
      const replay = capture();
      expect(await main(['replay', '--json'], { ...replay.io, env: { CREDENCE_URL: url, CREDENCE_TOKEN: issued.out[0]! } })).toBe(0);
      expect(JSON.parse(replay.out.join('\n'))).toMatchObject({ ok: true });
    } finally {
      child.kill('SIGTERM');
    }
    const timeout = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(timeout);
    expect(code).toBe(0);
    expect(err).toMatch(/^Credence stopped$/m);
  });

  it('says where the events live: an embedded store in another folder is not called EventStoreDB', async () => {
    const events = join(dir, 'events-elsewhere');
    const child = spawn(process.execPath, [CREDENCE, 'serve', '--data', join(dir, 'data-2'), '--store', `sqlite:${events}`, '--port', '0', '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PORT: '' },
    });
    let err = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL within 45 s: ${err}`)), 45_000);
        child.stderr.on('data', (chunk: Buffer) => {
          err += chunk.toString();
          if (/^Credence listening on .*\n/m.test(err)) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on('exit', () => reject(new Error(`serve ended early: ${err}`)));
      });
      expect(err).toMatch(/^Credence listening on http:\/\/\S+ \(data \S+data-2, events in the embedded store in \S+events-elsewhere\)$/m);
      expect(err).not.toContain('EventStoreDB');
    } finally {
      child.kill('SIGTERM');
    }
    const timeout = setTimeout(() => child.kill('SIGKILL'), 20_000);
    expect(await exited).toBe(0);
    clearTimeout(timeout);
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
