import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { body, settled } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review 97: checkpoints deleted from transparency.db under a running service made the log key refuse every
 * signature after (TransparencyLogForked: "checkpoints were removed"), which only GET /v1/projections said; /readyz
 * answered 200 ready, and the log stayed unsigned. It is now 503 not_ready, check transparency_log_altered, until a
 * signature succeeds again.
 */
const dirs: string[] = [];
let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const post = (s: TestService, id: string) =>
  fetch(`${s.url}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify(body.registerNode(id)),
  });

describe('/readyz while the log key refuses to sign', () => {
  it('is 503 transparency_log_altered once the checkpoints were removed under the running service, naming no position', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-readyz-altered-'));
    dirs.push(dir);
    svc = await startTestService({ dir });
    expect((await post(svc, 'meter-1')).status).toBe(201);
    await settled(svc);
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);

    const log = new Database(join(dir, 'transparency.db'));
    try {
      log.exec('DELETE FROM checkpoints');
    } finally {
      log.close();
    }
    expect((await post(svc, 'meter-2')).status).toBe(201);
    await settled(svc);
    const transparency = svc.service.context.credence.transparency!;
    await expect(transparency.checkpoint()).rejects.toThrow(/refusing to sign the transparency log: .*checkpoints were removed/);

    const ready = await fetch(`${svc.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('5');
    const problem = (await ready.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({ type: 'https://credence.dev/problems/not_ready', check: 'transparency_log_altered' });
    expect(JSON.stringify(problem)).not.toMatch(/where this process saw|signs \d+ leaves|position/);
  }, 60_000);
});
