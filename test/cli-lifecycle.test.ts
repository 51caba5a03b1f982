import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { fromBase64url, generateSigningKey, keyFingerprint, signingPayload, toBase64url, verifySignature } from './support/cli-signing.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { closedPort } from './support/closed-port.ts';

/** A port nothing listens on: bound, then closed again. */
describe('credence lifecycle commands against a live server', () => {
  let svc: TestService;
  let work: string;
  /** Runs the CLI with the server and the operator token in its environment (CREDENCE_URL / CREDENCE_TOKEN). */
  const cli = async (argv: string[], env: Record<string, string> = {}) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env: { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.operator, ...env } });
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  };

  beforeAll(async () => {
    svc = await startTestService();
    work = mkdtempSync(join(tmpdir(), 'credence-cli-lifecycle-'));
  });
  afterAll(async () => {
    await svc?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('exit 0: a subscription, a node registered and enrolled, with a one-line summary or the outcome as JSON', async () => {
    const created = await cli(['subscription', 'create', 'city', '--subscriber', 'City Utilities', '--not-after', '2030-01-01T00:00:00Z']);
    expect(created, created.err).toMatchObject({ code: 0 });
    expect(created.out).toMatch(/^createSubscription: subscription-city is now active \(SubscriptionCreated @\d+\)$/);

    const registered = await cli(['node', 'register', 'meter-1', '--class', 'smart-meter', '--manufacturer', 'Acme', '--model', 'SM-10', '--capability', 'metering', 'mn-cse', '--json']);
    expect(registered.code, registered.err).toBe(0);
    const outcome = JSON.parse(registered.out);
    expect(outcome).toMatchObject({ streamId: 'node-meter-1', state: 'initialized', deduplicated: false });
    expect(outcome.events[0]).toMatchObject({ type: 'NodeRegistered', position: expect.stringMatching(/^\d+$/) });
    expect(outcome.events[0].data.profile.capabilities).toEqual(['metering', 'mn-cse']);
    expect(outcome.events[0].metadata.actor).toEqual({ id: 'test-operator', role: 'operator' });

    const enrolled = await cli(['node', 'enrol', 'meter-1', '--subscription', 'city', '--cse-id', '/meter-1-cse']);
    expect(enrolled.code, enrolled.err).toBe(0);
    expect(enrolled.out).toContain('node-meter-1 is now enrolled');
  });

  it('exit 0 again for a command id already done: the first outcome, nothing appended', async () => {
    const commandId = randomUUID();
    const argv = ['application', 'register', 'Rbilling', '--name', 'Billing', '--provider', 'Acme', '--command-id', commandId];
    expect((await cli(argv)).code).toBe(0);
    const again = await cli(argv);
    expect(again.code).toBe(0);
    expect(again.out).toBe(`registerApplication: application-Rbilling was initialized after that command (command ${commandId} was already done; nothing appended)`);
  });

  it('exit 0 again for a retry under --command-id of a command with a start of validity given', async () => {
    const commandId = randomUUID();
    const argv = ['subscription', 'create', 'retried', '--subscriber', 'X', '--not-before', '2026-01-01T00:00:00Z', '--not-after', '2030-01-01T00:00:00Z', '--command-id', commandId];
    expect((await cli(argv)).code).toBe(0);
    const again = await cli(argv);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('was already done; nothing appended');
  });

  it('exit 1: an illegal transition, with the title, the detail, the state and what it allows', async () => {
    const again = await cli(['subscription', 'create', 'city', '--subscriber', 'City Utilities', '--not-after', '2030-01-01T00:00:00Z']);
    expect(again.code).toBe(1);
    expect(again.out).toBe('');
    expect(again.err).toMatch(/^refused: .* \(409\)$/m);
    expect(again.err).toMatch(/^ {2}state: active$/m);
    expect(again.err).toMatch(/^ {2}allowed: .*SubscriptionTerminated/m);
    const unknown = await cli(['credential', 'revoke', 'no-such-credential', '--reason', 'keyCompromise', '--json']);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.out)).toMatchObject({ status: 404 });
  });

  it('exit 1: the server refuses data (400) with every field path; exit 1: a role that may not send commands (403)', async () => {
    const bad = await cli(['command', 'enrolNode', '--data', JSON.stringify({ nodeId: 'meter-1', subscriptionId: 'city', cseId: 'no-slash', extra: { a: 1 } })]);
    const badFile = join(work, 'bad.json');
    writeFileSync(badFile, JSON.stringify({ subscriptionId: '', subscriber: '' }));
    const fromFile = await cli(['command', 'createSubscription', '--data', `@${badFile}`]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/\(400\)/);
    expect(bad.err).toMatch(/^ {2}body\.data\.cseId: /m);
    expect(fromFile.code).toBe(1);
    for (const field of ['subscriptionId', 'subscriber', 'notBefore', 'notAfter']) expect(fromFile.err).toMatch(new RegExp(`^ {2}body\\.data\\.${field}: `, 'm'));
    const auditor = await cli(['node', 'revoke', 'meter-1', '--reason', 'keyCompromise'], { CREDENCE_TOKEN: svc.tokens.auditor });
    expect(auditor.code).toBe(1);
    expect(auditor.err).toMatch(/\(403\)/);
    const forged = await cli(['node', 'revoke', 'meter-1', '--reason', 'keyCompromise', '--token', `${svc.tokens.operator}x`]);
    expect(forged.code).toBe(1);
    expect(forged.err).toMatch(/\(401\)/);
  });

  it('exit 2: bad usage caught before anything is sent, each message naming the option', async () => {
    const cases: [string[], RegExp][] = [
      [['node', 'enrol', 'meter-1', '--subscription', 'city', '--cse-id', 'no-slash'], /^error: --cse-id: CSE-ID must be "\/"/m],
      [['credential', 'issue', 'c1', '--kind', 'ed25519', '--purpose', 'service', '--owner', 'nobody', '--fingerprint', 'sha256:00', '--not-after', '2030-01-01T00:00:00Z'], /--owner: /],
      [['command', 'noSuchCommand', '--data', '{}'], /unknown command type noSuchCommand/],
      [['command', 'enrolNode', '--data', '{not json'], /--data: not JSON/],
      [['node', 'revoke', 'meter-1', '--reason', 'keyCompromise', '--command-id', 'not-a-uuid'], /--command-id: must be a UUID/],
      [['node', 'revoke', 'meter-1', '--reason', 'keyCompromise', '--sign-key', 'k.json'], /--audience: required with --sign-key/],
      [['node', 'revoke', 'meter-1', '--reason', 'keyCompromise', '--timeout', '1e3'], /--timeout: must be a number of/],
      // Found in review: commander kept the last of a repeated option and dropped the other without a word.
      [['node', 'register', 'n-twice', '--class', 'c', '--class', 'd', '--manufacturer', 'm', '--model', 'x'], /--class: given 2 times; give it once/],
      [['node', 'revoke', 'meter-1', '--reason=keyCompromise', '--reason', 'superseded'], /--reason: given 2 times/],
      // Found in review: a retry under --command-id sent another notBefore (now), refused as another command.
      [['subscription', 'create', 'retry', '--subscriber', 'X', '--not-after', '2030-01-01T00:00:00Z', '--command-id', randomUUID()], /--not-before: required with --command-id/],
      // Found in review: --app without --registree-ae was dropped, --registree-cse beside --registree-ae ignored.
      [['association', 'configure', 'a2', '--node', 'meter-1', '--credential', 'c1', '--registrar', '/in-cse', '--registree-cse', '/m-cse', '--app', 'Rapp'], /--app: the App-ID of an AE Registree/],
      [['association', 'configure', 'a2', '--node', 'meter-1', '--credential', 'c1', '--registrar', '/in-cse', '--registree-cse', '/m-cse', '--registree-ae', 'Cae1', '--app', 'Rapp'], /--registree-cse, --registree-ae: /],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(message);
    }
    // A switch given twice says the same thing twice: no usage error (the unknown credential is the server's refusal).
    expect((await cli(['credential', 'revoke', 'no-such', '--reason', 'keyCompromise', '--json', '--json'])).code).toBe(1);
    const noToken = await cli(['node', 'revoke', 'meter-1', '--reason', 'keyCompromise'], { CREDENCE_TOKEN: '' });
    expect(noToken).toMatchObject({ code: 2, err: 'error: --token: required with --server (or --token-file FILE, or set CREDENCE_TOKEN)' });
  });

  it('reads --token-file, and warns when others may read it (the command still runs)', async () => {
    const file = join(work, 'operator.token');
    writeFileSync(file, `${svc.tokens.operator}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    const argv = (id: string) => ['subscription', 'create', id, '--subscriber', 'S', '--not-after', '2030-01-01T00:00:00Z', '--token-file', file];
    const quiet = await cli(argv('token-file-1'), { CREDENCE_TOKEN: '' });
    expect([quiet.code, quiet.err]).toEqual([0, '']);
    chmodSync(file, 0o644);
    const exposed = await cli(argv('token-file-2'), { CREDENCE_TOKEN: '' });
    expect(exposed.code).toBe(0);
    expect(exposed.err).toBe(`warning: --token-file: ${file} is readable by group or others; chmod 600 it`);
    expect(exposed.err).not.toContain(svc.tokens.operator.split('.')[2]!);
  });

  it('exit 3: the server cannot be reached', async () => {
    const port = await closedPort();
    const r = await cli(['node', 'revoke', 'meter-1', '--reason', 'keyCompromise', '--server', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(3);
    // After the note naming the command id to send it again under (review 57).
    expect(r.err).toMatch(new RegExp(`^error: cannot reach http://127\\.0\\.0\\.1:${port}`, 'm'));
    const read = await cli(['replay', '--server', `http://127.0.0.1:${port}`]);
    expect(read.code).toBe(3);
  });

  it('signs a request with --sign-key: the stored signature covers the command as the server records it', async () => {
    const pair = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
    const keyFile = join(work, 'operator.key.json');
    writeFileSync(keyFile, JSON.stringify({ algorithm: 'ed25519', secretKey: toBase64url(pair.secretKey) }), { mode: 0o600 });
    const signed = await cli(['subscription', 'create', 'signed-sub', '--subscriber', 'S', '--not-after', '2030-01-01T00:00:00Z', '--sign-key', keyFile, '--audience', 'credence:test', '--json']);
    expect(signed.code, signed.err).toBe(0);
    const event = JSON.parse(signed.out).events[0];
    const signature = event.metadata.signature;
    expect(signature).toMatchObject({ version: 2, algorithm: 'ed25519', audience: 'credence:test', keyFingerprint: keyFingerprint('ed25519', pair.publicKey) });
    const { actor, commandId, correlationId, causationId } = event.metadata;
    const payload = signingPayload(
      { type: 'createSubscription', data: event.data, metadata: { actor, commandId, correlationId, causationId } },
      { issuedAt: signature.issuedAt, expiresAt: signature.expiresAt, audience: signature.audience },
    );
    expect(actor).toEqual({ id: 'test-operator', role: 'operator' });
    expect(verifySignature('ed25519', pair.publicKey, payload, fromBase64url(signature.value))).toBe(true);

    chmodSync(keyFile, 0o644);
    const exposed = await cli(['subscription', 'expire', 'signed-sub', '--sign-key', keyFile, '--audience', 'credence:test']);
    expect(exposed).toMatchObject({ code: 2, err: expect.stringContaining('readable by group or others') });
    expect(exposed.err).not.toContain(toBase64url(pair.secretKey));
  });

  it('refuses a --sign-key that is no P-256 private key as bad usage naming the flag (found in review: exit 1 in the curve\'s words)', async () => {
    for (const [name, scalar] of [['zero', new Uint8Array(32)], ['order', fromBase64url('_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE')]] as const) {
      const keyFile = join(work, `p256-${name}.key.json`);
      writeFileSync(keyFile, JSON.stringify({ algorithm: 'p256-ecdsa-sha256', secretKey: toBase64url(scalar) }), { mode: 0o600 });
      const refused = await cli(['subscription', 'create', `bad-${name}`, '--subscriber', 'S', '--not-after', '2030-01-01T00:00:00Z', '--sign-key', keyFile, '--audience', 'credence:test']);
      expect(refused, name).toMatchObject({ code: 2, err: expect.stringContaining('--sign-key: secretKey: is not a P-256 private key') });
    }
  });
  it("rotates a node's pseudonym with the server's key; a pseudonym chosen by hand is refused (found in review: recorded as given)", async () => {
    for (const argv of [
      ['subscription', 'create', 'rot-city', '--subscriber', 'City Utilities', '--not-after', '2030-01-01T00:00:00Z'],
      ['node', 'register', 'rot-meter', '--class', 'smart-meter', '--manufacturer', 'Acme', '--model', 'SM-10', '--capability', 'metering'],
    ]) expect((await cli(argv)).code).toBe(0);
    const commandId = randomUUID();
    const rotated = await cli(['pseudonym', 'rotate', 'rot-meter', '--command-id', commandId, '--json']);
    expect(rotated.code, rotated.err).toBe(0);
    const answer = JSON.parse(rotated.out) as { nodeId: string; epoch: number; deduplicated: boolean };
    expect(answer).toMatchObject({ nodeId: 'rot-meter', deduplicated: false });
    expect(rotated.out).not.toMatch(/p-[a-z2-7]{26}/);
    const again = await cli(['pseudonym', 'rotate', 'rot-meter', '--command-id', commandId]);
    expect(again).toMatchObject({ code: 0, out: `pseudonym of rot-meter: epoch ${answer.epoch} (this command id was already done; nothing appended)` });
    const unknown = await cli(['pseudonym', 'rotate', 'no-such-meter']);
    // The rule's own message says what it found (no such node, the epoch asked for), not its name alone.
    expect(unknown).toMatchObject({
      code: 1,
      err: expect.stringMatching(/no-such-meter cannot rotate: PseudonymRotated refused in state absent by rule nodeIsLive: a pseudonym is taken by a live node .*; its node is not recorded, and this rotation is epoch 0 \(trigger demand\)\n/),
    });
    // Found in review: the refusal named the pseudonym the node would carry, beside its id. The rule's message names
    // neither: the node only where the caller named it.
    expect(unknown.err).not.toMatch(/p-[a-z2-7]{26}/);
    expect(unknown.err.split('no-such-meter cannot rotate: ')[1]).not.toMatch(/no-such-meter|pseudonym-/);

    // A rotation with a pseudonym named by hand runs only through its own route, which derives it (refused before it is
    // sent since review 218; the server's own refusal: test/cli-command-names-the-own-cli-command-of-a-pseudonym-command).
    const handPicked = await cli(['command', 'rotatePseudonym', '--data', JSON.stringify({ nodeId: 'rot-meter', pseudonym: `p-${'a'.repeat(26)}`, epoch: answer.epoch + 1, trigger: 'demand' })]);
    expect(handPicked).toMatchObject({ code: 2, err: expect.stringContaining('use credence pseudonym rotate <nodeId> (rule own_route)') });
    const history = await svc.service.context.credence.store.readStream(`pseudonym-p-${'a'.repeat(26)}`);
    expect(history).toEqual([]);
  });

  it('resolves a pseudonym for an auditor, recorded with the reason first; an operator may not (found in review: no route reached it)', async () => {
    const { credence } = svc.service.context;
    for (const argv of [
      ['subscription', 'create', 'res-city', '--subscriber', 'City Utilities', '--not-after', '2030-01-01T00:00:00Z'],
      ['node', 'register', 'res-meter', '--class', 'smart-meter', '--manufacturer', 'Acme', '--model', 'SM-10', '--capability', 'metering'],
      ['pseudonym', 'rotate', 'res-meter'],
    ]) expect((await cli(argv)).code).toBe(0);
    let pseudonym = '';
    for await (const e of credence.store.readAll()) if (e.type === 'PseudonymRotated' && e.data['nodeId'] === 'res-meter') pseudonym = String(e.data['pseudonym']);
    expect(pseudonym).toMatch(/^p-[a-z2-7]{26}$/);
    const auditor = { CREDENCE_TOKEN: svc.tokens.auditor };
    const commandId = randomUUID();
    const resolved = await cli(['pseudonym', 'resolve', pseudonym, '--reason', 'case 2026-117', '--command-id', commandId, '--json'], auditor);
    expect(resolved.code, resolved.err).toBe(0);
    const answer = JSON.parse(resolved.out) as { nodeId: string; position: string };
    expect(answer).toMatchObject({ pseudonym, nodeId: 'res-meter', epoch: expect.any(Number) });
    const recorded = (await credence.store.readStream(`pseudonym-${pseudonym}`)).filter((e) => e.type === 'PseudonymResolved');
    expect(recorded.map((e) => [e.position.toString(10), e.data['reason'], e.metadata['actor']])).toEqual([
      [answer.position, 'case 2026-117', { id: 'test-auditor', role: 'auditor' }],
    ]);
    // The same command id answers the first resolution and records nothing more.
    expect((await cli(['pseudonym', 'resolve', pseudonym, '--reason', 'case 2026-117', '--command-id', commandId], auditor)).out).toContain('is node res-meter');
    expect((await credence.store.readStream(`pseudonym-${pseudonym}`)).filter((e) => e.type === 'PseudonymResolved')).toHaveLength(1);
    const operatorTried = await cli(['pseudonym', 'resolve', pseudonym, '--reason', 'curious']);
    expect(operatorTried.code).toBe(1);
    expect(operatorTried.err).not.toContain('res-meter');
    const unknown = await cli(['pseudonym', 'resolve', `p-${'b'.repeat(26)}`, '--reason', 'case 2026-118'], auditor);
    expect(unknown).toMatchObject({ code: 1, err: expect.stringContaining('404') });
  });
});
