import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFleet } from '../bin/commands/device/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Found in review: a device whose answer was not what the route returns (here JSON that does not parse) was re-thrown
// out of `device fleet`, which printed an error, removed its temporary folder and returned 1 while the other workers
// went on: the folder was made again and filled with bootstrap keys and KEKs, devices registered after the command
// had ended.

const CLI = fileURLToPath(new URL('../bin/credence.mjs', import.meta.url));
let service: TestService;
let scratch: string;
beforeAll(async () => {
  service = await startTestService();
  scratch = mkdtempSync(join(tmpdir(), 'credence-fleet-failure-'));
}, 60_000);
afterAll(async () => {
  await service?.close();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

/** A proxy in front of the service that answers `GET path` itself, with 200 and a body that is not JSON. */
const brokenAnswerProxy = (path: string) =>
  standInProxy(async (req, res, body) => {
    if (req.method === 'GET' && req.url === path) return res.writeHead(200, { 'content-type': 'application/json' }).end('{');
    return answerWith(res, await forwarded(service.url, req, body));
  });

const nodesRegistered = async (prefix: string, count: number): Promise<number> => {
  let registered = 0;
  for (let i = 1; i <= count; i++) if ((await service.service.context.credence.store.readStream(`node-${prefix}-${i}`)).length > 0) registered++;
  return registered;
};

describe('credence device fleet, when one device gets an answer it cannot read', () => {
  it('counts it as that device failing, finishes the others, and leaves no keys in its temporary folder after it exits', async () => {
    const tmp = mkdtempSync(join(scratch, 'tmp-'));
    const proxy = await brokenAnswerProxy('/v1/entities/node/zzf-1');
    try {
      const child = spawn(process.execPath, [CLI, 'device', 'fleet', '--count', '6', '--concurrency', '3', '--prefix', 'zzf', '--server', proxy.url, '--json'], {
        env: { ...process.env, TMPDIR: tmp, CREDENCE_TOKEN: service.tokens.operator },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));

      expect(code, err).toBe(1);
      const summary = JSON.parse(out) as Record<string, unknown>;
      expect(summary).toMatchObject({ count: 6, initialised: 5, associated: 5, failed: 1 });
      expect(summary['failures']).toEqual([{ nodeId: 'zzf-1', step: 'init', message: expect.stringMatching(/not valid JSON/) }]);
      // The process has ended: whatever its folder held is gone, and nothing is left to make it again.
      expect(readdirSync(tmp).filter((name) => name.startsWith('credence-fleet-'))).toEqual([]);
      expect(await nodesRegistered('zzf', 6)).toBe(5);
    } finally {
      await proxy.close();
    }
  }, 120_000);
});

describe('runFleet, when something outside any device fails', () => {
  it('stops every worker and returns only once each has finished its device: nothing is written after it returns', async () => {
    const root = join(scratch, 'stopped');
    mkdirSync(root);
    const target = { url: service.url, token: service.tokens.operator };
    let reports = 0;
    // Only the first report fails: the workers that did not meet the failure themselves must stop too.
    const run = runFleet(target, { count: 12, concurrency: 3, root, prefix: 'zzs', lifetimeSeconds: 3600 }, () => {
      if (++reports === 1) throw new Error('the progress display is gone');
    });
    await expect(run).rejects.toThrow(/the progress display is gone/);
    const folders = readdirSync(root).length;
    const registered = await nodesRegistered('zzs', 12);
    // At most the devices the three workers held when the first one finished: the others were never started.
    expect(folders).toBeLessThanOrEqual(3);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(readdirSync(root).length).toBe(folders);
    expect(await nodesRegistered('zzs', 12)).toBe(registered);
  }, 120_000);
});
