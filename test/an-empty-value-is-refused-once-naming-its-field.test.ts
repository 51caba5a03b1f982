/**
 * Review 368 (finding 1): an empty value was refused twice on one path, first in zod's own words: `credence
 * subscription terminate s1 --reason ''` printed `--reason: Too small: expected string to have >=1 characters` and then
 * `--reason: holds no visible character`, `token create --subject ''` the length and then the pattern, and POST
 * /v1/commands answered both issues (rules too_small and printable) on `body.data.reason`. zod runs a field's later
 * checks after its min(1) failed. An empty value is now refused once, rule too_small, in the project's words.
 */
import { describe, expect, it } from 'vitest';
import { TokenSubject } from '../adapters/http/auth/token-ids.ts';
import { command, CommandSchema, parseSentCommand } from '../domain/commands/index.ts';
import { SenderCorrelationId } from '../domain/commands/free-text.ts';
import { ResolutionReason } from '../domain/commands/resolution-reason.ts';
import { at, issueCredentialData, operator, profile, T0 } from './support/fleet.ts';
import { runCli } from './support/cli.ts';
import { startTestService } from './support/service.ts';

const EMPTY = { rule: 'too_small', message: 'must not be empty' };

/** Each free-text field of a new command (free-text.ts, command.ts), emptied, with the path its refusal names. */
const FIELDS: readonly [string, () => unknown][] = [
  ['data.subscriber', () => command('createSubscription', { subscriptionId: 'sub-2', subscriber: '', notBefore: T0, notAfter: at(365) }, { actor: operator })],
  ['data.reason', () => command('terminateSubscription', { subscriptionId: 'sub-1', reason: '' }, { actor: operator })],
  ['data.profile.class', () => command('registerNode', { nodeId: 'n2', profile: { ...profile, class: '' } }, { actor: operator })],
  ['data.profile.manufacturer', () => command('registerNode', { nodeId: 'n2', profile: { ...profile, manufacturer: '' } }, { actor: operator })],
  ['data.profile.model', () => command('registerNode', { nodeId: 'n2', profile: { ...profile, model: '' } }, { actor: operator })],
  ['data.profile.capabilities.0', () => command('registerNode', { nodeId: 'n2', profile: { ...profile, capabilities: [''] } }, { actor: operator })],
  ['data.name', () => command('registerApplication', { appId: 'Rapp01', name: '', provider: 'Acme' }, { actor: operator })],
  ['data.provider', () => command('registerApplication', { appId: 'Rapp01', name: 'metering', provider: '' }, { actor: operator })],
  ['data.owner.id', () => command('issueCredential', { ...issueCredentialData('cred-9', 'meter-1', { notBefore: T0, notAfter: at(30) }), owner: { kind: 'node', id: '' } }, { actor: operator })],
];

const issuesOf = (parsed: { success: boolean; error?: { issues: readonly { path: PropertyKey[]; code: string; message: string }[] } }) =>
  (parsed.error?.issues ?? []).map((i) => ({ path: i.path.map(String).join('.'), code: i.code, message: i.message }));

describe('an empty free-text value', () => {
  it.each(FIELDS)('%s is one issue, too_small, "must not be empty", as a new command', (path, sent) => {
    expect(issuesOf(CommandSchema.safeParse(sent())).filter((i) => i.path === path)).toEqual([{ path, code: 'too_small', message: EMPTY.message }]);
  });

  it.each(FIELDS)('%s is refused by the engine naming it once', (path, sent) => {
    let refusal: unknown;
    try {
      parseSentCommand(sent());
    } catch (error) {
      refusal = error;
    }
    const issues = (refusal as { problem: { issues: { path: string; rule: string; message: string }[] } }).problem.issues;
    expect(issues.filter((i) => i.path === path)).toEqual([{ path, ...EMPTY }]);
  });

  it('a sender correlation id is one issue too', () => {
    expect(issuesOf(SenderCorrelationId.safeParse(''))).toEqual([{ path: '', code: 'too_small', message: EMPTY.message }]);
  });

  it("a pseudonym resolution's reason is one issue too", () => {
    // With what to write instead, as its printable rule says for a reason showing nothing (review 374).
    expect(issuesOf(ResolutionReason.safeParse(''))).toEqual([{ path: '', code: 'too_small', message: 'must not be empty: say why the identity is needed (a case reference)' }]);
  });

  it("a command's correlation and causation ids are one issue each, in our words (review 374)", () => {
    for (const field of ['correlationId', 'causationId'] as const) {
      const made = command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'ended' }, { actor: operator });
      const sent = { ...made, metadata: { ...made.metadata, [field]: '' } };
      const path = `metadata.${field}`;
      expect(issuesOf(CommandSchema.safeParse(sent)).filter((i) => i.path === path)).toEqual([{ path, code: 'too_small', message: EMPTY.message }]);
    }
  });

  it('a token subject is one issue, not the length and then the pattern', () => {
    expect(issuesOf(TokenSubject.safeParse(''))).toEqual([{ path: '', code: 'too_small', message: EMPTY.message }]);
  });
});

describe('over HTTP', () => {
  it('POST /v1/commands with an empty reason answers one error on body.data.reason', async () => {
    const svc = await startTestService();
    try {
      const answer = await fetch(new URL('/v1/commands', svc.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'terminateSubscription', data: { subscriptionId: 'sub-1', reason: '' } }),
      });
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as { errors: unknown[] }).errors).toEqual([{ path: 'body.data.reason', ...EMPTY }]);
    } finally {
      await svc.close();
    }
  }, 60_000);
});

describe('on the command line', () => {
  const NOWHERE = ['--server', 'http://127.0.0.1:10', '--token', 'not-sent'];

  it("subscription terminate --reason '' is exit 2 with one line naming --reason", async () => {
    const run = await runCli(['subscription', 'terminate', 's1', '--reason', '', ...NOWHERE]);
    expect(run.code, run.err).toBe(2);
    expect(run.err.trim().split('\n')).toEqual(['error: --reason: must not be empty']);
  });

  it("token create --subject '' is exit 2 with one line naming --subject", async () => {
    const run = await runCli(['token', 'create', '--role', 'operator', '--subject', '', '--ttl', '1h', ...NOWHERE]);
    expect(run.code, run.err).toBe(2);
    expect(run.err.trim().split('\n')).toEqual(['error: --subject: must not be empty']);
  });
});

