/**
 * Issue 16: `credence serve --secure-environment pkcs11:…` runs with its keys in SoftHSM2 (the API token signing
 * key and the infrastructure's keys), serves, and never prints the PIN; `credence token create` with the same
 * setting signs with the same key in the token.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { startServe } from './support/serve-process.ts';

const CREDENCE = fileURLToPath(new URL('../bin/credence.mjs', import.meta.url));

describe.skipIf(softHsmMissing !== undefined)('credence serve with its keys in a PKCS#11 token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('service');
  // The PIN comes from the environment: the URI on the command line carries none.
  const uri = token.uri().replace(/&pin-source=[^&]*/, '');

  it('a token made with credence token create is accepted by the service; the keys are in the token; no PIN in any output', async () => {
    const data = join(hsm.dir, 'data');
    const issued = capture();
    const env = { CREDENCE_SECURE_ENVIRONMENT: uri, CREDENCE_PKCS11_PIN: token.pin };
    expect(await main(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '10m', '--data', data], { ...issued.io, env })).toBe(0);
    expect(hsm.listObjects(token)).toContain('credence:access');

    const serve = startServe(
      ['--data', data, '--port', '0', '--log-level', 'debug', '--secure-environment', uri],
      { PORT: '', CREDENCE_PKCS11_PIN: token.pin },
      /^Credence listening on (http:\/\/127\.0\.0\.1:\d+) .*\n/m,
    );
    const url = (await serve.ready)[1]!;
    try {
      expect(serve.err).toContain('keys in PKCS#11 token "service"');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const replay = capture();
      const code = await main(['replay', '--json'], { ...replay.io, env: { CREDENCE_URL: url, CREDENCE_TOKEN: issued.out[0]! } });
      expect(code, replay.err.join('\n')).toBe(0);
      expect(JSON.parse(replay.out.join('\n'))).toMatchObject({ ok: true });
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect(await serve.exitCode()).toBe(0);
    for (const output of [serve.err, serve.out, issued.out.join('\n'), issued.err.join('\n')]) expect(output).not.toContain(token.pin);
  });

  it('refuses to start with a wrong PIN or a PIN in the URI, saying why and never printing the PIN', async () => {
    const wrong = 'deadbeef0123456789';
    const run = (args: string[], pin: string) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(process.execPath, [CREDENCE, 'serve', '--data', join(hsm.dir, 'data-refused'), '--port', '0', ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, PORT: '', CREDENCE_PKCS11_PIN: pin },
        });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.on('exit', (code) => resolve({ code, output }));
      });
    const wrongPin = await run(['--secure-environment', uri], wrong);
    expect(wrongPin.code).not.toBe(0);
    expect(wrongPin.output).toContain('CKR_PIN_INCORRECT');
    expect(wrongPin.output).not.toContain(wrong);
    const inUri = await run(['--secure-environment', `${uri}&pin-value=${wrong}`], token.pin);
    expect(inUri.code).not.toBe(0);
    expect(inUri.output).toContain('pin-value');
    expect(inUri.output).not.toContain(wrong);
    expect(inUri.output).not.toContain(token.pin);
    rmSync(join(hsm.dir, 'data-refused'), { recursive: true, force: true });
  });
});
