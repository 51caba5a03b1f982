import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { body, settled } from './http-conformance.fixtures.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review 93: on a healthy service started on a new folder, `credence verify --data` said `TAMPERED: unsigned`
 * (exit 1) for up to the checkpoint period (10 s) after the first command: its events were logged, and the live
 * runtime signed a checkpoint only at start (when something was logged) and then on its timer. A log that holds leaves
 * and no checkpoint now signs one as soon as it logs, before the live runtime holds those events handled.
 */
describe('verify --data on a fresh service folder', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('passes once the live runtime has handled the first command, the first checkpoint signed at once', async () => {
    const log = openTransparencyLogInDir(svc.dir);
    try {
      expect(log.size()).toBe(0);
    } finally {
      log.close();
    }
    const posted = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(body.registerNode('meter-1')),
    });
    expect(posted.status).toBe(201);
    // Handled by every live component, the transparency log included; well within the 10 s checkpoint period.
    await settled(svc);
    const c = capture();
    const key = readFileSync(join(svc.dir, 'transparency.pub'), 'utf8').trim();
    const code = await verifyCommand(['--data', svc.dir, '--key', key], c.io);
    expect(c.err.join('\n')).not.toMatch(/TAMPERED|UNVERIFIED/);
    expect(code, c.err.join('\n')).toBe(0);
    // The first checkpoint covers the first event at least; what the cascade appended after it waits for the timer.
    expect(c.out.join('\n')).toMatch(/^ok: \d+ stored events match the transparency log; [1-9]\d* are covered by the signed checkpoint/);
  });
});
