/**
 * Review 186 (finding 4): only a pseudonym resolution's reason had to be visible text (rule `printable`, review 146).
 * A subscription's termination reason and subscriber, a node's class, manufacturer, model and capabilities, an
 * application's name and provider, a credential owner's id and the correlation and causation ids were stored with
 * terminal escapes, line breaks, bidi overrides or nothing but spaces, to be printed later by the CLI, the console and
 * the audit trail. Every free-text field of a new command now obeys the same rule, naming the field, and nothing is
 * written; stored events keep their looser schemas. Base64url, PEM/DER and the provisioning receipt (a signed
 * statement recorded as signed) are not free text and keep their own rules.
 */
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { at, cmd, footprint, issueCredentialData, operator, profile, rejection, T0 } from './support/fleet.ts';
import { startTestService } from './support/service.ts';

const BAD = ['bad\u001b[31mRED\nFAKE LINE', 'ci\u001b[2Jty', '   ', '\u202eevil', 'a\u200bb', '\n'] as const;
const GOOD = ['City Utilities GmbH', 'Störung – 東京 ⚠️', ' Acme '] as const;

/** A command as sent: its type, data and metadata, checked by the engine's parse. */
type Sent = { readonly type: string; readonly data: unknown; readonly metadata: Record<string, unknown> };

/** Each free-text field of a new command, with the command that carries `text` there and the path a refusal names. */
const FIELDS: readonly [string, (text: string) => Sent][] = [
  ['data.subscriber', (t) => command('createSubscription', { subscriptionId: 'sub-2', subscriber: t, notBefore: T0, notAfter: at(365) }, { actor: operator })],
  ['data.reason', (t) => command('terminateSubscription', { subscriptionId: 'sub-1', reason: t }, { actor: operator })],
  ['data.profile.class', (t) => command('registerNode', { nodeId: 'n2', profile: { ...profile, class: t } }, { actor: operator })],
  ['data.profile.manufacturer', (t) => command('registerNode', { nodeId: 'n2', profile: { ...profile, manufacturer: t } }, { actor: operator })],
  ['data.profile.model', (t) => command('registerNode', { nodeId: 'n2', profile: { ...profile, model: t } }, { actor: operator })],
  ['data.profile.capabilities.0', (t) => command('registerNode', { nodeId: 'n2', profile: { ...profile, capabilities: [t] } }, { actor: operator })],
  ['data.name', (t) => command('registerApplication', { appId: 'Rapp01', name: t, provider: 'Acme' }, { actor: operator })],
  ['data.provider', (t) => command('registerApplication', { appId: 'Rapp01', name: 'metering', provider: t }, { actor: operator })],
  ['data.owner.id', (t) => command('issueCredential', { ...issueCredentialData('cred-9', 'meter-1', { notBefore: T0, notAfter: at(30) }), owner: { kind: 'node', id: t } }, { actor: operator })],
  ['metadata.correlationId', (t) => ({ ...cmd.registerNode('n3'), metadata: { ...cmd.registerNode('n3').metadata, correlationId: t } })],
  ['metadata.causationId', (t) => ({ ...cmd.registerNode('n3'), metadata: { ...cmd.registerNode('n3').metadata, causationId: t } })],
];

const fleet = async () => {
  const store = openSqliteStore({ memory: true });
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1')]) await engine.execute(c);
  return { store, engine };
};

describe('a free-text field of a new command', () => {
  it.each(FIELDS)('%s holding a control, an invisible character or only spaces is refused by rule printable, nothing written', async (path, sent) => {
    const { store, engine } = await fleet();
    const before = await footprint(store);
    for (const text of BAD) {
      const error = await rejection(engine.execute(sent(text)));
      expect(error.problem, JSON.stringify(text)).toMatchObject({ code: 'validation', issues: expect.arrayContaining([expect.objectContaining({ path, rule: 'printable' })]) });
    }
    expect(await footprint(store)).toEqual(before);
  });

  // An owner's id names an entity the decision reads, so only its refusal is free-text's: visible text is another rule's.
  it.each(FIELDS.filter(([path]) => path !== 'data.owner.id'))('%s holding visible text, accents, other scripts and emoji included, is recorded as written', async (path, sent) => {
    for (const text of GOOD) {
      const { engine } = await fleet();
      const outcome = await engine.execute(sent(text));
      const [event] = outcome.events;
      const recorded = path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], { data: event!.data, metadata: event!.metadata });
      expect(recorded, JSON.stringify(text)).toBe(text);
    }
  });
});

describe('over HTTP', () => {
  it('POST /v1/commands answers 400 naming the body field and the rule, and writes nothing', async () => {
    const svc = await startTestService();
    try {
      const post = (payload: unknown) =>
        fetch(new URL('/v1/commands', svc.url), { method: 'POST', headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' }, body: JSON.stringify(payload) });
      const store = svc.service.context.credence.store;
      const before = await footprint(store);
      for (const [payload, path] of [
        [{ type: 'terminateSubscription', data: { subscriptionId: 'sub-1', reason: 'bad\u001b[31mRED\nFAKE LINE' } }, 'body.data.reason'],
        [{ type: 'registerNode', data: { nodeId: 'n9', profile: { ...profile, manufacturer: '\u001b[31m\u202eAcme' } } }, 'body.data.profile.manufacturer'],
        [{ type: 'registerNode', data: { nodeId: 'n9', profile: { ...profile, class: '   ' } } }, 'body.data.profile.class'],
        [{ type: 'registerNode', data: { nodeId: 'n9', profile }, correlationId: 'x\ny' }, 'body.correlationId'],
      ] as const) {
        const answer = await post(payload);
        expect(answer.status, path).toBe(400);
        expect(await answer.json(), path).toMatchObject({ errors: expect.arrayContaining([expect.objectContaining({ path, rule: 'printable' })]) });
      }
      expect(await footprint(store)).toEqual(before);
    } finally {
      await svc.close();
    }
  }, 60_000);
});

describe('on the command line', () => {
  it('--correlation-id or --causation-id that is not visible text is bad usage naming the option, before anything is sent', async () => {
    const { runCli } = await import('./support/cli.ts');
    for (const option of ['--correlation-id', '--causation-id']) {
      const result = await runCli(['node', 'register', 'meter-x', '--class', 'meter', '--manufacturer', 'Acme', '--model', 'M1', '--server', 'http://127.0.0.1:9', '--token', 'a.b.c', option, 'x\ny']);
      expect(result.code, result.err).toBe(2);
      expect(result.err).toContain(option);
      expect(result.err).toContain('U+000A');
    }
  });
});
