import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cmd } from './support/fleet.ts';
import { copyEventStore } from './support/restored-folder.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 84 finding 4: with its transparency log stopped over an event store restored from an older backup, the
 * service stayed ready and acknowledged commands (201) that the restore README then recommends (the right events.db
 * put back) drops. While stopped for that reason it refuses them, 503 `transparency_log_of_another_log`, stores
 * nothing, and /readyz is not ready with that check; the public answers name no position or leaf hash.
 */

const request = async (svc: TestService, path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
  const reply = await fetch(`${svc.url}${path}`, init);
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
};

const registerNode = (svc: TestService, nodeId: string) =>
  request(svc, '/v1/commands', {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'registerNode', data: { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] } } }),
  });

describe('a service whose transparency log stopped on a restored event store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-refuses-commands-'));
  const backup = mkdtempSync(join(tmpdir(), 'credence-refuses-commands-backup-'));
  let svc: TestService | undefined;
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(backup, { recursive: true, force: true });
  });

  it('refuses commands with 503 transparency_log_of_another_log, stores nothing, and is not ready', async () => {
    svc = await startTestService({ dir });
    expect((await registerNode(svc, 'meter-1')).status).toBe(201);
    await svc.close();
    copyEventStore(dir, backup);
    svc = await startTestService({ dir });
    expect((await registerNode(svc, 'meter-2')).status).toBe(201);
    expect((await registerNode(svc, 'meter-3')).status).toBe(201);
    await svc.close();
    copyEventStore(backup, dir);

    svc = await startTestService({ dir });
    const store = svc.service.context.credence.store;
    const head = await store.headPosition();

    const refused = await registerNode(svc, 'meter-4');
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ type: 'https://credence.dev/problems/transparency_log_of_another_log', status: 503 });
    // Said to whoever sends a command (a device through its protocol routes too): no position, no leaf hash.
    expect(JSON.stringify(refused.body)).not.toMatch(/position \d|[0-9a-f]{64}/);
    // In-process callers of the engine (the protocol procedures, a program) are refused as well.
    await expect(svc.service.context.credence.engine.execute(cmd.registerNode('meter-5'))).rejects.toMatchObject({ code: 'transparency_log_of_another_log' });
    expect(await store.headPosition()).toBe(head);

    const ready = await request(svc, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ type: 'https://credence.dev/problems/not_ready', check: 'transparency_log_of_another_log' });
    expect(JSON.stringify(ready.body)).not.toMatch(/position \d|[0-9a-f]{64}/);

    // Reads go on: the operator and auditors still read the restored fleet.
    const node = await request(svc, '/v1/entities/node/meter-1', { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(node.status).toBe(200);
  }, 120_000);
});
