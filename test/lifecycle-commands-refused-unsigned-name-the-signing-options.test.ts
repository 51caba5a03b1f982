/**
 * Review 173 (G): under a signing policy that requires signatures, `device init` and `device associate` refused for
 * want of one ended with a hint naming --sign-key FILE and --audience NAME; `subscription create`, `node enrol` (every
 * lifecycle command, `credence command` too) said only that the command must be signed. They now give the same hint.
 * The example policy docs/service.md shows (Signed commands) is one the service loads.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register as command } from '../bin/commands/command.ts';
import { register as lifecycle } from '../bin/commands/lifecycle.ts';
import { runCommands } from '../bin/program.ts';
import { parseRequestSigningPolicy } from '../domain/signing/index.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

const HINT = /^ {2}hint: the signing policy requires this command signed: give --sign-key FILE and --audience NAME/m;

/** The JSON example of the "Signed commands" section of docs/service.md. */
const docsExamplePolicy = (): unknown => {
  const docs = readFileSync(new URL('../docs/service.md', import.meta.url), 'utf8');
  const section = docs.slice(docs.indexOf('\n## Signed commands\n'));
  const block = /```json\n([\s\S]*?)\n```/.exec(section.slice(0, section.indexOf('\n## ', 1)));
  expect(block, 'a ```json example in "Signed commands"').not.toBeNull();
  return JSON.parse(block![1]!);
};

describe('lifecycle commands under a signing policy that requires every command signed', () => {
  let service: TestService;
  let root: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'credence-lifecycle-hint-'));
    const policyFile = join(root, 'signing.json');
    writeFileSync(policyFile, JSON.stringify(docsExamplePolicy()));
    service = await startTestService({ config: { signing: policyFile } });
  }, 60_000);
  afterAll(async () => {
    await service?.close();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  const run = async (argv: string[]) => {
    const c = capture();
    const code = await runCommands([lifecycle, command], [...argv, '--server', service.url, '--token', service.tokens.operator], { ...c.io, env: {} });
    return { code, err: c.err.join('\n') };
  };

  it.each([
    ['subscription create', ['subscription', 'create', 'sub-1', '--subscriber', 'City Utilities', '--not-after', '2030-01-01T00:00:00Z']],
    ['node enrol', ['node', 'enrol', 'meter-1', '--subscription', 'sub-1', '--cse-id', '/cse-meter-1']],
    ['command', ['command', 'createSubscription', '--data', '{"subscriptionId":"sub-2","subscriber":"X","notBefore":"2026-01-01T00:00:00Z","notAfter":"2030-01-01T00:00:00Z"}']],
  ])('%s refused unsigned names --sign-key and --audience (exit 1)', async (_what, argv) => {
    const r = await run(argv);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/\(422\)/);
    expect(r.err).toMatch(HINT);
  });
});

describe('the example policy of docs/service.md', () => {
  it('is a policy the service loads', () => {
    const policy = parseRequestSigningPolicy(docsExamplePolicy());
    expect(policy.require).toBe('all');
    expect(policy.keys.length).toBeGreaterThan(0);
  });
});
