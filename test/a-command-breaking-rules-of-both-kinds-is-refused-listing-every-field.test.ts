/**
 * Review 348: review 342 judged the rules of new facts (free text visible text, rule `printable`; each capability
 * once, `repeated_capability`; an outside sender's correlation id visible text) in decide(), after the command id is
 * looked for, and parsed commands and the route's body with the schema of a command as sent. A command breaking rules
 * of both kinds was then refused one field at a time: a registration missing its model, with a bell in its manufacturer
 * and a capability named twice, was refused naming the model alone, and its resend naming the manufacturer, where all
 * three were named before (docs/service.md: "Validation errors list every field"); a subscription both born expired and
 * with a bell in its subscriber was refused naming its notAfter alone. A command failing the schema as sent can never
 * be an answered retry, so its refusal names every field the full command schema refuses; a new command breaking both
 * a rule of new facts and born-expired names both; nothing is written.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { footprint, operator, rejection, T0 } from './support/fleet.ts';
import { useTestService } from './support/service.ts';

/** A registration missing its model, with a bell in its manufacturer and metering named twice. */
const badRegistration = { nodeId: 'n9', profile: { class: 'smart-meter', manufacturer: 'A\u0007', capabilities: ['metering', 'metering'] } };
const REGISTRATION_ISSUES = [
  { path: 'data.profile.model', rule: 'invalid_type' },
  { path: 'data.profile.manufacturer', rule: 'printable' },
  { path: 'data.profile.capabilities.1', rule: 'repeated_capability' },
];

/** A subscription ended before the instant it is recorded at, with a bell in its subscriber. */
const expiredSubscription = { subscriptionId: 'sub-9', subscriber: 'City\u0007', notBefore: '2020-01-01T00:00:00.000Z', notAfter: '2020-06-01T00:00:00.000Z' };
const SUBSCRIPTION_ISSUES = [
  { path: 'data.subscriber', rule: 'printable' },
  { path: 'data.notAfter', rule: 'after_now' },
];

/**
 * Review 353: three more a refusal named one at a time, each named alone then on the resend: a revocation's id of the
 * wrong type hid its reason certificateHold (the command's whole-object rule is skipped once a field fails); a
 * registration missing its model hid a bell in its correlation id (a sender's rule, no part of the schema); a bell in a
 * manufacturer hid an upper-case command id (the id rule asked only once the others passed).
 */
const UPPER_CASE_ID = '0190A4A0-0000-7000-8000-00000000ABCD';
const ONE_AT_A_TIME = {
  revocation: {
    type: 'revokeCredential',
    data: { credentialId: 5, reason: 'certificateHold' },
    issues: [
      { path: 'data.credentialId', rule: 'invalid_type' },
      { path: 'data.reason', rule: 'new_revocation_reason' },
    ],
  },
  correlation: {
    type: 'registerNode',
    data: { nodeId: 'n9', profile: { class: 'smart-meter', manufacturer: 'Acme', capabilities: ['metering'] } },
    correlationId: 'case\u0007 1',
    issues: [
      { path: 'data.profile.model', rule: 'invalid_type' },
      { path: 'metadata.correlationId', rule: 'printable' },
    ],
  },
  upperCaseId: {
    type: 'registerNode',
    data: { nodeId: 'n9', profile: { class: 'smart-meter', manufacturer: 'A\u0007', model: 'SM-1', capabilities: ['metering'] } },
    commandId: UPPER_CASE_ID,
    issues: [
      { path: 'data.profile.manufacturer', rule: 'printable' },
      { path: 'metadata.commandId', rule: 'lower_case' },
    ],
  },
} as const;

const pathsAndRules = (issues: readonly { path: string; rule: string }[]) => issues.map(({ path, rule }) => ({ path, rule }));

describe('a command breaking rules of both kinds, through the engine', () => {
  it('a registration missing its model, with a bell in its manufacturer and a capability twice, names all three, sent twice, nothing written', async () => {
    // Given an engine on an empty store
    const store = await openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    const before = await footprint(store);

    // When the registration is sent, then sent again
    for (const attempt of ['first', 'resend']) {
      const error = await rejection(engine.execute(command('registerNode', badRegistration as never, { actor: operator })));
      // Then each time it is refused naming every field, and nothing is written
      expect(error.problem.code, attempt).toBe('validation');
      if (error.problem.code !== 'validation') return;
      expect(pathsAndRules(error.problem.issues), attempt).toEqual(expect.arrayContaining(REGISTRATION_ISSUES));
      expect(error.problem.issues, attempt).toHaveLength(REGISTRATION_ISSUES.length);
    }
    expect(await footprint(store)).toEqual(before);
  });

  it('a subscription born expired with a bell in its subscriber names both', async () => {
    const store = await openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    const before = await footprint(store);

    const error = await rejection(engine.execute(command('createSubscription', expiredSubscription, { actor: operator })));

    expect(error.problem.code).toBe('validation');
    if (error.problem.code !== 'validation') return;
    expect(pathsAndRules(error.problem.issues)).toEqual(expect.arrayContaining(SUBSCRIPTION_ISSUES));
    expect(await footprint(store)).toEqual(before);
  });

  it('a registration with a bell in its manufacturer and in its correlation id names both', async () => {
    const store = await openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    const before = await footprint(store);
    const profile = { class: 'smart-meter', manufacturer: 'A\u0007', model: 'SM-1', capabilities: ['metering'] };

    const error = await rejection(engine.execute(command('registerNode', { nodeId: 'n9', profile }, { actor: operator, correlationId: 'case\u0007 1' })));

    expect(error.problem.code).toBe('validation');
    if (error.problem.code !== 'validation') return;
    expect(pathsAndRules(error.problem.issues)).toEqual(
      expect.arrayContaining([
        { path: 'data.profile.manufacturer', rule: 'printable' },
        { path: 'metadata.correlationId', rule: 'printable' },
      ]),
    );
    expect(await footprint(store)).toEqual(before);
  });
  for (const [name, sent] of Object.entries(ONE_AT_A_TIME)) {
    it(`${name}: every rule it breaks is named at once, sent twice, nothing written (review 353)`, async () => {
      const store = await openSqliteStore({ memory: true });
      const engine = createEngine({ store, clock: new FakeClock(T0) });
      const before = await footprint(store);
      const metadata = {
        actor: operator,
        ...('correlationId' in sent ? { correlationId: sent.correlationId } : {}),
        ...('commandId' in sent ? { commandId: sent.commandId } : {}),
      };

      for (const attempt of ['first', 'resend']) {
        const error = await rejection(engine.execute(command(sent.type, sent.data as never, metadata)));
        expect(error.problem.code, attempt).toBe('validation');
        if (error.problem.code !== 'validation') return;
        expect(pathsAndRules(error.problem.issues), attempt).toEqual(expect.arrayContaining([...sent.issues]));
        expect(error.problem.issues, attempt).toHaveLength(sent.issues.length);
      }
      expect(await footprint(store)).toEqual(before);
    });
  }
});

describe('a command breaking rules of both kinds, over HTTP', () => {
  const svc = useTestService();
  const post = (payload: unknown) =>
    fetch(new URL('/v1/commands', svc.url), { method: 'POST', headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' }, body: JSON.stringify(payload) });

  it('POST /v1/commands names every field of both, each time, nothing written', async () => {
    const store = svc.service.context.credence.store;
    const before = await footprint(store);
    const body = (issues: readonly { path: string; rule: string }[]) => issues.map(({ path, rule }) => ({ path: `body.${path}`, rule }));

    for (const attempt of ['first', 'resend']) {
      const answer = await post({ type: 'registerNode', data: badRegistration });
      expect(answer.status, attempt).toBe(400);
      const { errors } = (await answer.json()) as { errors: { path: string; rule: string }[] };
      expect(pathsAndRules(errors), attempt).toEqual(expect.arrayContaining(body(REGISTRATION_ISSUES)));
      expect(errors, attempt).toHaveLength(REGISTRATION_ISSUES.length);
    }

    const expired = await post({ type: 'createSubscription', data: expiredSubscription });
    expect(expired.status).toBe(400);
    const { errors } = (await expired.json()) as { errors: { path: string; rule: string }[] };
    expect(pathsAndRules(errors)).toEqual(expect.arrayContaining(body(SUBSCRIPTION_ISSUES)));

    expect(await footprint(store)).toEqual(before);
  }, 60_000);

  it('POST /v1/commands names at once every rule of the three review 353 found named one at a time', async () => {
    const store = svc.service.context.credence.store;
    const before = await footprint(store);
    // The engine's metadata fields are the body's own over HTTP.
    const body = (issues: readonly { path: string; rule: string }[]) => issues.map(({ path, rule }) => ({ path: `body.${path.replace(/^metadata\./, '')}`, rule }));

    for (const [name, sent] of Object.entries(ONE_AT_A_TIME)) {
      const { issues, ...payload } = sent;
      for (const attempt of ['first', 'resend']) {
        const answer = await post(payload);
        expect(answer.status, `${name} ${attempt}`).toBe(400);
        const { errors } = (await answer.json()) as { errors: { path: string; rule: string }[] };
        expect(pathsAndRules(errors), `${name} ${attempt}`).toEqual(expect.arrayContaining(body(issues)));
        expect(errors, `${name} ${attempt}`).toHaveLength(issues.length);
      }
    }
    expect(await footprint(store)).toEqual(before);
  }, 60_000);
});
