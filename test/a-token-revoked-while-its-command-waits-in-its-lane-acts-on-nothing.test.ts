/**
 * Found in review: the service checks the bearer token again once the body is read (preValidation), but the engine then
 * queues the command in its stream's lane, one decision at a time per stream. A token revoked while its command waited
 * there behind another of the same stream still acted. The caller now hands the engine a check of its own
 * (`ExecuteOptions.admit`), run inside the lane right before the decision: a token revoked meanwhile is refused with
 * the access hook's 401, and nothing is written for its command; the command ahead of it is recorded as usual.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import type { CommandOutcome, EventStore } from '../domain/ports/index.ts';
import { nodePseudonym } from '../projections/pseudonyms/index.ts';
import { body, settled } from './http-conformance.fixtures.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/** A promise and its resolver. */
const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
};

/** `store` whose next append waits, once `holdNext` is called, until the hold is released. */
const holdingAppends = (store: EventStore) => {
  let hold: { readonly reached: () => void; readonly released: Promise<void> } | undefined;
  const held = new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (property !== 'appendToStream') return value.bind(target);
      return async (...args: unknown[]) => {
        const h = hold;
        hold = undefined;
        if (h !== undefined) {
          h.reached();
          await h.released;
        }
        return value.apply(target, args);
      };
    },
  });
  const holdNext = () => {
    const reached = gate();
    const released = gate();
    hold = { reached: reached.open, released: released.opened };
    return { reached: reached.opened, release: released.open };
  };
  return { store: held, holdNext };
};

class Refused extends Error {}

/** The problem the access hook answers a revoked token with (adapters/http/problems.ts `unauthenticated`). */
const UNAUTHENTICATED = { status: 401, type: 'https://credence.dev/problems/unauthenticated', title: 'Authentication required' };

describe('the engine, with a check of the caller\'s own', () => {
  it('runs it in the command\'s lane right before its decision: revoked while the command waited, it is refused and nothing is written for it', async () => {
    const base = openSqliteStore({ memory: true });
    const { store, holdNext } = holdingAppends(base);
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    let tokenGood = true;
    const admit = () => {
      if (!tokenGood) throw new Refused('revoked');
    };
    // The first command on node-gw is in its append, holding the lane; the second waits behind it, admitted by then.
    const hold = holdNext();
    const first = engine.execute(cmd.registerNode('gw'), { admit });
    await hold.reached;
    const second = engine.execute(command('revokeNode', { nodeId: 'gw', reason: 'keyCompromise' }, { actor: operator }), { admit }).then(
      (outcome: CommandOutcome) => outcome,
      (error: unknown) => error,
    );
    tokenGood = false;
    hold.release();

    expect((await first).events.map((e) => e.type)).toEqual(['NodeRegistered']);
    expect(await second).toBeInstanceOf(Refused);
    expect((await base.readStream('node-gw')).map((e) => e.type)).toEqual(['NodeRegistered']);
    await base.close();
  });

  it('lets the command through when the check passes', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    let checks = 0;
    await engine.execute(cmd.registerNode('gw'), { admit: () => void checks++ });
    expect(checks).toBe(1);
    expect((await store.readStream('node-gw')).map((e) => e.type)).toEqual(['NodeRegistered']);
    await store.close();
  });
});

describe('over HTTP, a token revoked while its command waits in its stream lane', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
  });

  const post = (path: string, token: string, payload: unknown) =>
    fetch(`${svc.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(payload) });
  const types = async (streamId: string) => (await svc.service.context.credence.store.readStream(streamId)).map((e) => e.type);

  it('answers 401 and records nothing for it, while the command ahead of it in the lane is recorded', async () => {
    const { access, credence } = svc.service.context;
    const issued = await access.issue({ subject: 'lane-grace', role: 'operator', ttlSeconds: 600, issuedBy: 'test' });
    // In-process, ahead in node-lane-1's lane: held inside it (its own check waits) until released.
    const ahead = gate();
    const first = credence.engine.execute(cmd.registerNode('lane-1'), { admit: () => ahead.opened });
    // The HTTP command passes the access hook and reaches the engine, behind the first in the lane.
    const reached = gate();
    const execute = credence.engine.execute.bind(credence.engine);
    const spy = vi.spyOn(credence.engine, 'execute').mockImplementation((input, options) => {
      reached.open();
      return execute(input, options);
    });
    try {
      const answer = post('/v1/commands', issued.token, body.revokeNode('lane-1'));
      await reached.opened;
      const revoked = await fetch(`${svc.url}/v1/tokens/${issued.tokenId}`, { method: 'DELETE', headers: { authorization: `Bearer ${svc.tokens.admin}` } });
      expect(revoked.status).toBe(204);
      ahead.open();

      expect((await first).events.map((e) => e.type)).toEqual(['NodeRegistered']);
      const refused = await answer;
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="credence", error="invalid_token"');
      expect(await refused.json()).toMatchObject({ ...UNAUTHENTICATED, reason: 'revoked while the command waited its turn' });
      expect(await types('node-lane-1')).toEqual(['NodeRegistered']);
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses the same on the pseudonym routes: a rotation or a resolution whose token ends before it is decided records nothing', async () => {
    const { access, credence } = svc.service.context;
    expect((await post('/v1/commands', svc.tokens.operator, body.registerNode('lane-2'))).status).toBe(201);
    await settled(svc);
    const pseudonym = nodePseudonym(credence.readModels, 'lane-2')!.pseudonym!;
    const before = await types(`pseudonym-${pseudonym}`);
    // The token ends just after the access hook let the request through, on its way to the engine.
    const execute = credence.engine.execute.bind(credence.engine);
    let revoke: (() => void) | undefined;
    const spy = vi.spyOn(credence.engine, 'execute').mockImplementation((input, options) => {
      revoke?.();
      return execute(input, options);
    });
    try {
      for (const [role, path, payload] of [
        ['operator', '/v1/pseudonyms/rotations', { nodeId: 'lane-2' }],
        ['auditor', '/v1/pseudonyms/resolutions', { pseudonym, reason: 'case 7' }],
      ] as const) {
        const issued = await access.issue({ subject: `lane-${role}`, role, ttlSeconds: 600, issuedBy: 'test' });
        revoke = () => void access.revoke(issued.tokenId, 'test');
        const answer = await post(path, issued.token, payload);
        expect(answer.status).toBe(401);
        expect(await answer.json()).toMatchObject(UNAUTHENTICATED);
      }
      await settled(svc);
      expect(await types(`pseudonym-${pseudonym}`)).toEqual(before);
    } finally {
      spy.mockRestore();
    }
  });
});
