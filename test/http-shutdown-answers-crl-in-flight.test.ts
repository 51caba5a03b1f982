import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RouteModule } from '../adapters/http/context.ts';
import { runCommands } from '../bin/program.ts';
import { register as caCommands } from '../bin/commands/ca.ts';
import { startTestService, type TestService } from './support/service.ts';

let arrived: () => void = () => {};

/** A request in flight when shutdown begins that then reads the CRL, as a relying party's slow CRL fetch would. */
const crlAfterShutdownBegins: RouteModule = (app, context) => {
  app.get('/test/crl-after-shutdown-begins', { config: { access: 'public' } }, async () => {
    arrived();
    await new Promise<void>((resolve) => context.shutdown.addEventListener('abort', () => resolve(), { once: true }));
    const crl = await context.pkiRevocation!.current!.crl('default')!.full();
    return { bytes: crl.der.length };
  });
};

describe('graceful shutdown with issuing CAs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-shutdown-pki-'));
  let svc: TestService | undefined;
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a CRL request in flight when shutdown begins: the PKI publisher stops only after the server drained', async () => {
    const err: string[] = [];
    const code = await runCommands([caCommands], ['ca', 'init', '--data', dir, '--id', 'default', '--json'], { out: () => {}, err: (l) => err.push(l) });
    expect(code, err.join('\n')).toBe(0);
    svc = await startTestService({ dir, routes: [crlAfterShutdownBegins] });
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    const answer = fetch(`${svc.url}/test/crl-after-shutdown-begins`);
    await inFlight;
    const closing = svc.service.close();
    const response = await answer;
    expect(response.status).toBe(200);
    expect(((await response.json()) as { bytes: number }).bytes).toBeGreaterThan(100);
    await closing;
    expect(svc.logs().filter((l) => l.includes('committed read model: closed'))).toEqual([]);
  });
});
