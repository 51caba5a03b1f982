import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { CannotWrite } from '../bin/write-failure.ts';
import { registeredPseudonym } from './http-conformance.fixtures.ts';
import { capture, runCli } from './support/cli.ts';
import { closedPort } from './support/closed-port.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 218: when standard output failed after the server recorded a command (`> /dev/full`), the CLI said only
 * `cannot write standard output (ENOSPC)`, exit 1: a script that sends it again on exit 1 rotated a pseudonym again or
 * recorded a second resolution. Once the server has answered, stderr says the command was recorded, with its id and
 * how to send it again safely; the exit code stays 1 (README's exit codes: the outcome a script reads was not written).
 */
const NODE = 'meter-outcome-unwritten';
let svc: TestService;
let pseudonym: string;

beforeAll(async () => {
  svc = await startTestService();
  pseudonym = await registeredPseudonym(svc, NODE);
}, 60_000);

afterAll(async () => {
  await svc?.close();
});

/** `credence <argv>` with a standard output that refuses every write, as a full disk does. */
const intoFullDisk = async (argv: string[]): Promise<{ thrown: unknown; err: string }> => {
  const { io, err } = capture();
  const full = { ...io, out: () => { throw new CannotWrite('standard output', 'ENOSPC'); }, env: {} };
  const thrown = await main(argv, full).then(() => undefined, (error: unknown) => error);
  return { thrown, err: err.join('\n') };
};

/** The stored events recorded under `commandId`. */
const recordedUnder = async (commandId: string): Promise<string[]> => {
  const found: string[] = [];
  for await (const e of svc.service.context.credence.store.readAll()) if (e.metadata['commandId'] === commandId) found.push(e.type);
  return found;
};

const SAID = /^(\w+) was recorded \(command id ([0-9a-f-]{36})(, [^)]+)?\): its outcome could not be written to standard output: ENOSPC; do not send it again, or send it again with (--command-id \2(?: --not-before \S+)?), which answers the same outcome$/m;

describe.each([
  ['subscription create', 'createSubscription', 'SubscriptionCreated', () => ['subscription', 'create', 'outcome-unwritten', '--subscriber', 'City', '--not-after', '2030-01-01T00:00:00Z', '--token', svc.tokens.operator]],
  ['pseudonym rotate', 'rotatePseudonym', 'PseudonymRotated', () => ['pseudonym', 'rotate', NODE, '--token', svc.tokens.operator]],
  ['pseudonym resolve', 'resolvePseudonym', 'PseudonymResolved', () => ['pseudonym', 'resolve', pseudonym, '--reason', 'case 2026-218', '--token', svc.tokens.auditor]],
])('credence %s, recorded, its outcome not written to standard output', (_name, type, event, argv) => {
  it('says on stderr it was recorded, under which command id, and that sending it again needs that id; recorded once', async () => {
    const { thrown, err } = await intoFullDisk([...argv(), '--server', svc.url]);
    // Still the write's failure (exit 1, said last by the CLI as `error: cannot write standard output (ENOSPC)`).
    expect(thrown).toBeInstanceOf(CannotWrite);
    const said = SAID.exec(err);
    expect(said, err).not.toBeNull();
    expect(said?.[1]).toBe(type);
    const commandId = said![2]!;
    if (type !== 'rotatePseudonym') expect(said?.[3]).toMatch(/^, @\d+$/);
    expect(await recordedUnder(commandId)).toEqual([event]);

    // Sent again as it says, it answers the same outcome and records nothing more.
    // `subscription create` chose its --not-before (now): the retry must send it the same, and is told which.
    if (type === 'createSubscription') expect(said?.[4]).toMatch(/ --not-before \d{4}-\d\d-\d\dT[\d:.]+Z$/);
    const again = await runCli([...argv(), '--server', svc.url, ...said![4]!.split(' ')]);
    expect(again.code, again.err).toBe(0);
    expect(await recordedUnder(commandId)).toEqual([event]);
  }, 30_000);
});

describe('credence subscription create of unknown outcome, its --not-before chosen by the CLI', () => {
  it('names the --not-before it sent beside the command id, and sent again so it is done', async () => {
    const argv = ['subscription', 'create', 'outcome-unknown', '--subscriber', 'City', '--not-after', '2030-01-01T00:00:00Z', '--token', svc.tokens.operator];
    const unknown = await runCli([...argv, '--server', `http://127.0.0.1:${await closedPort()}`]);
    expect(unknown.code).toBe(3);
    const hint = /add (--command-id [0-9a-f-]{36} --not-before \S+)$/m.exec(unknown.err);
    expect(hint, unknown.err).not.toBeNull();
    const again = await runCli([...argv, '--server', svc.url, ...hint![1]!.split(' ')]);
    expect(again.code, again.err).toBe(0);
  }, 30_000);
});
