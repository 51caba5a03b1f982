/**
 * Review 136: `credence demo` on a store that already held events said "resuming, no demo this time" and then showed
 * the fleet and stopped, resuming nothing; and on another port than its certificates name, the start's warning came
 * out as a raw JSON log line on stderr among the demo's own. The demo now says what it does, and the service's
 * warnings are plain lines (`warning: …`) unless its JSON log is asked for with --log-level.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { tempDirs } from './support/temp-dirs.ts';

const folders = tempDirs('credence-demo-again-');
afterAll(folders.cleanup);

/** A port free right now (listened on and let go): surely not the one the first run's certificates name. */
const freePort = async (): Promise<string> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return String(port);
};

const demo = async (argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> => {
  const c = capture();
  const code = await main(['demo', ...argv], { ...c.io, env: {} });
  return { code, out: c.out, err: c.err };
};

describe('credence demo on a folder whose store holds events', () => {
  const data = join(folders.make(), 'data');

  it('says it runs no demo and only shows the fleet, and the start warning is one plain line', async () => {
    const first = await demo(['--data', data]);
    expect(first.code, first.err.join('\n')).toBe(0);

    const again = await demo(['--data', data, '--port', await freePort()]);
    expect(again.code, again.err.join('\n')).toBe(0);
    expect(again.out).toContain(`The store in ${data} already holds events: no demo this time, only where its fleet stands (delete the folder to run the demo again).`);
    expect(again.out.join('\n')).not.toMatch(/resuming/);
    // The certificates name the first run's port: said as the CLI says a warning, not as a JSON log line.
    expect(again.err).toContainEqual(expect.stringMatching(/^warning: certificates issued from this data folder name http:\/\/127\.0\.0\.1:\d+ for their CRL and OCSP/));
    expect(again.err.filter((l) => l.trimStart().startsWith('{'))).toEqual([]);
  }, 120_000);
});
