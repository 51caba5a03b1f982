/**
 * Issue 12, `npm start`: `credence start` serves the data folder; on an empty store it first runs the demo fleet
 * through the running server on the wall clock, then prints the URL, the docs, a local operator and auditor token
 * and two commands to try, and serves until Ctrl-C. A second start on the same folder resumes without the demo.
 * Run as `npm start` runs it: a child process (`node bin/credence.mjs start`), stopped with SIGINT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { operatorClient } from '../adapters/client/operator.ts';
import { subscribeEvents } from '../adapters/client/sse.ts';
import { register as device } from '../bin/commands/device.ts';
import { register as history } from '../bin/commands/history.ts';
import { register as verify } from '../bin/commands/verify.ts';
import { runCommands } from '../bin/program.ts';
import { capture } from './support/cli.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const READY = /^Ctrl-C stops it gracefully/m;
const READY_TIMEOUT_MS = 90_000;
const EXIT_TIMEOUT_MS = 20_000;

const dir = mkdtempSync(join(tmpdir(), 'credence-start-'));
const data = join(dir, 'data');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** The environment without what would move the server elsewhere (a PORT of the shell running the tests). */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'PORT' && !name.startsWith('CREDENCE_')));

interface Started {
  readonly out: string;
  readonly url: string;
  readonly operator: string;
  readonly auditor: string;
  /** SIGINT (`times` in a row), then the exit code and everything printed. */
  interrupt(times?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>;
}

/** `npm start` on the test's folder, port 0 (and `flags`); resolves once it printed that it serves (bounded). */
const npmStart = async (flags: readonly string[] = []): Promise<Started> => {
  const child = spawn(process.execPath, ['bin/credence.mjs', 'start', '--data', data, '--port', '0', ...flags], { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after ${READY_TIMEOUT_MS} ms:\n${out}\n${err}`)), READY_TIMEOUT_MS);
    const check = (): void => {
      if (!READY.test(out)) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout!.on('data', check);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`npm start ended early (exit ${code}):\n${out}\n${err}`));
    });
  });
  const grab = (pattern: RegExp): string => {
    const found = pattern.exec(out)?.[1];
    if (found === undefined) throw new Error(`${pattern} not in:\n${out}`);
    return found;
  };
  return {
    out,
    url: grab(/^Credence is running at (http:\/\/\S+) /m),
    operator: grab(/^ {2}export OPERATOR_TOKEN=(\S+)$/m),
    auditor: grab(/^ {2}export AUDITOR_TOKEN=(\S+)$/m),
    interrupt: async (times = 1) => {
      // Apart by a few ms, as npm's forwarded copy arrives: two at once would merge into one pending signal.
      for (let i = 0; i < times; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
        child.kill('SIGINT');
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
      const result = await exited;
      clearTimeout(timer);
      return { ...result, out, err };
    },
  };
};

const claims = (token: string): { sub: string; role: string; iat: number; exp: number } =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));

/** An entity's state and its last timeline entry, as an auditor reads them. */
const entity = async (url: string, token: string, kind: string, id: string) => {
  const api = operatorClient(url, token);
  const { state } = (await api.entity(kind, id)) as { state: string };
  const { entries } = (await api.timeline(kind, id)) as { entries: { type: string; actor: { id: string }; reason?: string }[] };
  return { state, last: entries.at(-1)!, first: entries[0]! };
};

/** The fleet summary's lines (`  node  5: 4 associated, 1 revoked`), for comparing two starts. */
const fleetLines = (out: string): string[] => out.split('\n').filter((l) => /^ {2}(node|association|subscription) +\d+: /.test(l));

describe('npm start', () => {
  let first: Started;

  it('on an empty store runs the demo fleet through the running server, then prints the URL, the docs, two local tokens and two commands', async () => {
    first = await npmStart();
    const { out, url } = first;
    expect(out).toContain('is empty: the demo fleet runs first, through this server on the wall clock');
    // Each device got its own Secure Environment, under the data folder.
    for (const nodeId of ['gateway-1', 'meter-1', 'meter-4']) expect(out).toContain(`bootstrap in ${join(data, 'devices', nodeId)}`);
    expect(out).toMatch(/meter-4 +meter-4-service \(psk256\) provisioned, meter-4-sa established with \/in-cse/);
    expect(out).toMatch(/credential-meter-3-service +CredentialRevoked +by system:process-manager \(keyCompromise\)/);
    expect(out).toMatch(/credential-meter-1-service +CredentialRevoked +by system:expiry-scheduler \(superseded\)/);
    expect(out).toMatch(/^The fleet \(GET \/v1\/replay\): \d+ events, every stored transition legal$/m);
    expect(out).toContain(`API docs  ${url}/docs`);
    expect(out).toMatch(/^A development convenience printed for this local demo only/m);
    expect(out).toContain(`curl -N -H "Authorization: Bearer $AUDITOR_TOKEN" ${url}/v1/events`);
    expect(out).toContain(`CREDENCE_TOKEN="$AUDITOR_TOKEN" npx credence history node-meter-3 --server ${url}`);
    expect((await fetch(`${url}/docs`)).status).toBe(200);
    // Review 106: it said `npm start`, which serves ./data on 8080, a new demo elsewhere.
    expect(out).toContain(`\`npm start -- --data ${data} --port ${new URL(url).port}\` again resumes on ${data}`);

    // Issued at this start with a bounded lifetime (12 h), one role each.
    for (const [token, role] of [[first.operator, 'operator'], [first.auditor, 'auditor']] as const) {
      const c = claims(token);
      expect({ sub: c.sub, role: c.role, ttl: c.exp - c.iat }).toEqual({ sub: `local-${role}`, role, ttl: 12 * 3600 });
    }
  }, 120_000);

  it("leaves the fleet's states, moved by the live runtime, readable through the API", async () => {
    const { url, auditor } = first;
    const read = (kind: string, id: string) => entity(url, auditor, kind, id);
    // The compromise: the node revoked by the operator, its credentials and association by the live cascade.
    expect((await read('node', 'meter-3')).state).toBe('revoked');
    for (const [kind, id] of [['credential', 'meter-3-service'], ['credential', 'meter-3-bootstrap'], ['association', 'meter-3-sa']]) {
      const e = await read(kind!, id!);
      expect({ id, state: e.state, actor: e.last.actor.id, reason: e.last.reason }).toEqual({ id, state: 'revoked', actor: 'system:process-manager', reason: 'keyCompromise' });
    }
    // The rotation: the predecessor revoked as superseded by the expiry scheduler once the overlap ended on the wall clock.
    const predecessor = await read('credential', 'meter-1-service');
    expect({ state: predecessor.state, actor: predecessor.last.actor.id, reason: predecessor.last.reason }).toEqual({ state: 'revoked', actor: 'system:expiry-scheduler', reason: 'superseded' });
    expect((await read('association', 'meter-1-sa')).state).toBe('revoked');
    expect((await read('credential', 'meter-1-service-r1')).state).toBe('associated');
    expect((await read('association', 'meter-1-sa-r1')).state).toBe('associated');
    expect((await read('node', 'gateway-1')).state).toBe('associated');
    // The operator's commands went over the API as the demo's own principal, never as the tokens printed.
    expect((await read('subscription', 'city-utilities')).first.actor.id).toBe('operator:demo');
  }, 30_000);

  // Issue 13, left: the demo makes an issuing CA (credence ca init) before the fleet, so the console's PKI views and
  // the CRL and OCSP endpoints have something to show a newcomer.
  it.skipIf(!hasOpenssl())("publishes a CRL signed by the CA the demo made, revoking the compromised meter's certificate and not the gateway's", async () => {
    const { url, out } = first;
    expect(out).toContain(`issuing CA: credence ca init --data ${data} made "CN=Credence CA default" (p256`);
    expect(out).toContain(`  curl -s ${url}/pki/default/crl | openssl crl -inform DER -noout -text`);
    const files = new OpenSslDir('credence-demo-crl-');
    try {
      const crl = await fetch(`${url}/pki/default/crl`);
      expect(crl.status).toBe(200);
      expect(crl.headers.get('content-type')).toBe('application/pkix-crl');
      files.write('crl.pem', pem('X509 CRL', new Uint8Array(await crl.arrayBuffer())));
      files.write('ca.pem', pem('CERTIFICATE', new Uint8Array(await (await fetch(`${url}/pki/default/ca.crt`)).arrayBuffer())));
      // Signed by that CA (openssl checks the signature with -CAfile), listing the cascade's and the rotation's revocations.
      const text = await files.ok(['crl', '-in', 'crl.pem', '-CAfile', 'ca.pem', '-noout', '-text']);
      expect(text).toContain('Issuer: CN = Credence CA default');
      expect(text).toContain('Key Compromise');
      expect(text).toContain('Superseded');
      // The certificates the devices got from their CSRs, as `credence device certificate` prints them (README), checked
      // as a relying party would.
      const certificateOf = async (nodeId: string, credentialId: string): Promise<string> => {
        const c = capture();
        const code = await runCommands([device], ['device', 'certificate', '--dir', join(data, 'devices', nodeId), '--credential', credentialId], c.io);
        expect(code, c.err.join('\n')).toBe(0);
        return files.write(`${credentialId}.pem`, `${c.out.join('\n')}\n`);
      };
      const check = (file: string) => files.run(['verify', '-crl_check', '-CAfile', 'ca.pem', '-CRLfile', 'crl.pem', file]);
      const compromised = await check(await certificateOf('meter-3', 'meter-3-service'));
      expect(compromised.status).not.toBe(0);
      expect(compromised.stdout + compromised.stderr).toContain('certificate revoked');
      expect((await check(await certificateOf('gateway-1', 'gateway-1-service'))).stdout).toContain(': OK');
      // meter-1 holds two certified credentials after its rotation: which one is for the caller to say.
      const both = capture();
      expect(await runCommands([device], ['device', 'certificate', '--dir', join(data, 'devices', 'meter-1')], both.io)).toBe(1);
      expect(both.err.join('\n')).toMatch(/holds 2 certified credentials: name one with --credential \(meter-1-service, meter-1-service-r1\)/);
    } finally {
      files.remove();
    }
  }, 30_000);

  it('answers the two printed examples: the SSE stream with the auditor token, and credence history against the server', async () => {
    const { url, auditor, operator } = first;
    const stop = new AbortController();
    const events = subscribeEvents(url, { path: '/v1/events', token: auditor, reconnect: false, signal: AbortSignal.any([stop.signal, AbortSignal.timeout(10_000)]) });
    const firstEvent = (await events.next()).value;
    stop.abort();
    expect(firstEvent).toMatchObject({ id: expect.stringMatching(/^1~[0-9a-f]{8}$/), event: 'SubscriptionCreated' });

    const { io, out, err } = capture();
    expect(await runCommands([history], ['history', 'node-meter-3', '--server', url, '--token', auditor], io), err.join('\n')).toBe(0);
    expect(out[0]).toBe('node-meter-3: revoked');
    // The operator token is an operator's: it may send commands (a bad one is refused on its body, not its role).
    await expect(operatorClient(url, operator).command({ type: 'revokeNode', data: { nodeId: 'meter-3', reason: 'keyCompromise' } })).rejects.toMatchObject({ status: 409 });
  }, 30_000);

  it('stops cleanly on Ctrl-C (SIGINT), and a second start on the same data resumes without the demo', async () => {
    const stopped = await first.interrupt();
    expect({ code: stopped.code, signal: stopped.signal, err: stopped.err }).toEqual({ code: 0, signal: null, err: '' });
    expect(stopped.out).toMatch(/Credence stopped; .* keeps everything\.\n$/);

    const second = await npmStart();
    expect(second.out).toContain('already holds events: resuming, no demo this time');
    expect(second.out).not.toContain('the demo fleet runs first');
    expect(fleetLines(second.out)).toEqual(fleetLines(first.out));
    expect(fleetLines(second.out)).toContain('  node             5: 4 associated, 1 revoked');
    // New tokens at every start; the API answers with them, and no longer with the ones printed before.
    expect(second.auditor).not.toBe(first.auditor);
    expect((await entity(second.url, second.auditor, 'node', 'meter-3')).state).toBe('revoked');
    await expect(operatorClient(second.url, first.auditor).entity('node', 'meter-3')).rejects.toMatchObject({ status: 401 });
    // One Ctrl-C under npm arrives twice (from the terminal, and forwarded by npm): still a graceful stop.
    const again = await second.interrupt(2);
    expect({ code: again.code, signal: again.signal }).toEqual({ code: 0, signal: null });
    // Served on another port than the first start, whose URL the demo's certificates name: said once, at warn (review 54).
    expect(again.err.trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
      expect.objectContaining({ level: 40, publicUrl: second.url, certificatesUrl: first.url, caId: 'default' }),
    ]);
    expect(again.out).toMatch(/Credence stopped; .* keeps everything\.\n$/);

    // What the demo and the live runtime stored matches the signed transparency log, checked offline.
    const checked = capture();
    expect(await runCommands([verify], ['verify', '--data', data], checked.io), checked.err.join('\n')).toBe(0);
    expect(checked.out.join('\n')).toMatch(/^ok: \d+ stored events match the transparency log/);
  }, 120_000);

  // Found in review: `--host 0.0.0.0 --public-url http://127.0.0.1:9/` (README: the container case) printed "running at
  // http://0.0.0.0:37459" and curl, history and CRL lines at that address, which names no one's machine.
  it('with a wildcard --host and a --public-url, names the public URL in every line to try, and the address it listens on', async () => {
    const served = await npmStart(['--host', '0.0.0.0', '--public-url', 'http://127.0.0.1:9/']);
    const { code } = await served.interrupt();
    expect(code).toBe(0);
    const lines = served.out.split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^Credence is running at http:\/\/127\.0\.0\.1:9 \(listening on http:\/\/0\.0\.0\.0:\d+; data in /));
    expect(served.out).toContain('  API docs  http://127.0.0.1:9/docs    OpenAPI  http://127.0.0.1:9/openapi.json');
    expect(served.out).toContain('curl -N -H "Authorization: Bearer $AUDITOR_TOKEN" http://127.0.0.1:9/v1/events');
    expect(served.out).toContain('CREDENCE_TOKEN="$AUDITOR_TOKEN" npx credence history node-meter-3 --server http://127.0.0.1:9\n');
    expect(served.out).toContain('  curl -s http://127.0.0.1:9/pki/default/crl | openssl crl -inform DER -noout -text');
    // The wildcard address only where it says what the server listens on.
    expect(lines.filter((l) => l.includes('0.0.0.0'))).toEqual([expect.stringMatching(/^Credence is running at /)]);
  }, 120_000);
});
