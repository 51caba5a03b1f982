import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 331: a refusal printed with --json into a pipe whose reader had gone exited 0: the reader gone ended the
 * process with exit 0 before the command's own code was set, so a `set -o pipefail` script read a refused command as
 * done. The reader going away is still no error of its own (`credence history x | head`, exit 0), but the command's
 * code stands. Child processes, as the review ran them: only a real stdout shows it.
 */

const CLI = join(import.meta.dirname, '..', 'bin', 'credence.mjs');

/** `credence <args> | (exec 0<&-)` in bash with pipefail: the reader closes its end at once. Async: the service is in this process. */
const intoClosedPipe = (args: readonly string[], env: Record<string, string>) =>
  new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    execFile('bash', ['-c', `set -o pipefail; ${quoted} | (exec 0<&-; sleep 0)`], { env: { ...process.env, CREDENCE_DATA: '', ...env }, timeout: 50_000 }, (error, out, err) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, out, err }),
    );
  });

describe('a command whose stdout reader is gone', () => {
  let svc: TestService;
  let env: Record<string, string>;
  beforeAll(async () => {
    svc = await startTestService();
    env = { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.operator };
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('a refusal printed with --json (404) keeps exit 1, and nothing is said of the pipe', async () => {
    const run = await intoClosedPipe(['credential', 'revoke', 'nosuch', '--reason', 'keyCompromise', '--json'], env);
    expect(run.code, run.err).toBe(1);
    expect(run.err).not.toContain('EPIPE');
  });

  it('a 409 likewise: exit 1', async () => {
    const created = await intoClosedPipe(['subscription', 'create', 'city', '--subscriber', 'City', '--not-after', '2030-01-01T00:00:00Z', '--json'], env);
    expect(created.code, created.err).toBe(0);
    const again = await intoClosedPipe(['subscription', 'create', 'city', '--subscriber', 'City', '--not-after', '2030-01-01T00:00:00Z', '--json'], env);
    expect(again.code, again.err).toBe(1);
  });

  it('a server not reached keeps exit 3 (a command that succeeded keeps 0: test/cli-a-failed-stdout-is-one-line…)', async () => {
    const run = await intoClosedPipe(['subscription', 'expire', 'nosuch-yet', '--json', '--server', 'http://127.0.0.1:59994'], env);
    expect(run.code, run.err).toBe(3);
  });

  it('events from the start of a quiet log ends (exit 0) once the reader of what it printed is gone, not at the next event', async () => {
    // Review 336: the reader gone only flagged, the follow went on until another event came to be written, on a quiet
    // log never. Nothing is stored while it runs: it ends on the EPIPE of what it printed, as on Ctrl-C.
    await svc.service.context.credence.engine.execute(cmd.registerNode('quiet-1'));
    const started = Date.now();
    const { code, err } = await intoClosedPipe(['events', '--from', 'start', '--json'], env);
    expect(code, err).toBe(0);
    expect(Date.now() - started).toBeLessThan(45_000);
  });

  it('events, following until Ctrl-C, still ends (exit 0) once it goes on writing to nobody', async () => {
    // It never ends on its own, so no code of its own stands: it would follow into nothing for ever.
    let ended = false;
    const run = intoClosedPipe(['events', '--json'], env).finally(() => {
      ended = true;
    });
    for (let n = 0; !ended && n < 60; n++) {
      await svc.service.context.credence.engine.execute(cmd.registerNode(`pipe-${n}`));
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const { code, err } = await run;
    expect(code, err).toBe(0);
    expect(err).not.toContain('EPIPE');
  });
});
