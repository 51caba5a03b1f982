import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startServe } from './support/serve-process.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 174: `serve --data other --store sqlite:k1` started while a service held k1: both ran the cascade, the
 * expiry schedule and the pseudonym rotation on one events.db (the rotation failing every second with "commandId …
 * already used for a different command"). The data folder's lock guarded that folder only. A writer of an embedded
 * store in another folder (a service, a projections rebuild) now takes that folder's lock too, and is refused, naming
 * the holder, while another process holds it; a service on another folder's store holds that folder while it runs.
 */
const folder = temporaryFolders('credence-store-folder-lock-');

const cli = async (argv: string[], env: Record<string, string> = {}) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('the folder of an embedded store a service holds as its data folder', () => {
  let running: TestService;
  beforeAll(async () => {
    // In a folder of its own, removed when it closes.
    running = await startTestService({ config: { logLevel: 'silent' } });
  });
  afterAll(async () => running.close());

  // On the running service's port: a second service the lock let through is refused for the port, never left running.
  const port = () => new URL(running.url).port;
  it.each([
    ['serve --store', (other: string) => ({ argv: ['serve', '--data', other, '--store', `sqlite:${running.dir}`, '--port', port(), '--log-level', 'silent'], env: {}, setting: 'flag --store' })],
    ['serve with CREDENCE_STORE', (other: string) => ({ argv: ['serve', '--data', other, '--port', port(), '--log-level', 'silent'], env: { CREDENCE_STORE: `sqlite:${running.dir}` }, setting: 'env CREDENCE_STORE' })],
    ['projections rebuild --store', (other: string) => ({ argv: ['projections', 'rebuild', 'all', '--data', other, '--store', `sqlite:${running.dir}`], env: {}, setting: '--store' })],
    // The start itself takes the lock, so `credence start` and `demo` are refused too.
    ['demo with CREDENCE_STORE', (other: string) => ({ argv: ['demo', '--data', other, '--port', port()], env: { CREDENCE_STORE: `sqlite:${running.dir}` }, setting: 'env CREDENCE_STORE' })],
  ] as const)('%s on it from another data folder is refused naming the holder, and nothing is written', async (_name, asked) => {
    const other = join(folder(), 'other');
    const before = readdirSync(running.dir).sort();
    const holderFile = readFileSync(join(running.dir, 'service.lock'), 'utf8');
    const { argv, env, setting } = asked(other);
    const r = await cli([...argv], env);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain(`${setting}: ${running.dir}, the folder of this event store, is in use by process ${process.pid} on `);
    expect(existsSync(other)).toBe(false);
    expect(readdirSync(running.dir).sort()).toEqual(before);
    expect(readFileSync(join(running.dir, 'service.lock'), 'utf8')).toBe(holderFile);
  });
});

describe('a service on the embedded store of another folder', () => {
  it('holds that folder while it runs: a service on it, or on its store from a third folder, is refused naming it; let go once stopped', async () => {
    const root = folder();
    const store = join(root, 'k1');
    const serve = startServe(['--data', join(root, 'k2'), '--store', `sqlite:${store}`, '--port', '0', '--log-level', 'silent'], { PORT: '' }, /^Credence listening on http:\/\/[^:]+:(\d+) .*\n/m);
    try {
      const port = (await serve.ready)[1]!;
      const holder = `process ${serve.child.pid} on `;
      const own = await cli(['serve', '--data', store, '--port', port, '--log-level', 'silent']);
      expect(own.code, own.err).toBe(1);
      expect(own.err).toContain(`${store} is in use by ${holder}`);
      const third = await cli(['serve', '--data', join(root, 'k3'), '--store', `sqlite:${store}`, '--port', port, '--log-level', 'silent']);
      expect(third.code, third.err).toBe(1);
      expect(third.err).toContain(`${store}, the folder of this event store, is in use by ${holder}`);
      expect(existsSync(join(root, 'k3'))).toBe(false);
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect(await serve.exitCode(), serve.err).toBe(0);
    expect(existsSync(join(store, 'service.lock'))).toBe(false);
    expect(existsSync(join(store, 'events.db'))).toBe(true);
  });
});
