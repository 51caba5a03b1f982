import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeClock, systemClock } from '../adapters/driven/clock/index.ts';
import { openCredence, startLive, type Credence, type LiveRuntime } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { cmd, footprint, operator, T0 } from './support/fleet.ts';

/** Waits, with caughtUp only, until the cascade has nothing left to do: every component handled the head, twice. */
const quiesce = async (c: Credence, live: LiveRuntime): Promise<void> => {
  for (let round = 0; round < 20; round++) {
    const head = await c.store.headPosition();
    if (head === undefined) return;
    expect(await live.caughtUp(head, 5000)).toBe(true);
    if ((await c.store.headPosition()) === head) return;
  }
  throw new Error('the cascade did not settle in 20 rounds');
};

/** A gateway with 2 service credentials and 4 associations spread over them, without settle(). */
const gateway = async (c: Credence): Promise<void> => {
  const run = (x: unknown) => c.engine.execute(x);
  await run(cmd.createSubscription());
  await run(cmd.registerNode('gw'));
  await run(cmd.enrolNode('gw'));
  for (const k of [1, 2]) {
    await run(cmd.issueCredential(`gw-c${k}`, 'gw'));
    await run(cmd.provisionCredential(`gw-c${k}`));
  }
  for (const i of [1, 2, 3, 4]) {
    await run(cmd.configureAssociation(`gw-a${i}`, `gw-c${(i % 2) + 1}`, 'gw'));
    await run(cmd.establishAssociation(`gw-a${i}`));
  }
};

describe('live runtime: everything follows the store with no settle()', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'credence-live-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the revocation cascade live: a revoked node revokes its credentials and associations', async () => {
    const c = openCredence({ location: { dir }, clock: new FakeClock(T0) });
    const live = startLive(c, { tickMs: 50 });
    await live.start();
    try {
      await gateway(c);
      await quiesce(c, live);
      expect((await c.engine.view('node', 'gw')).state).toBe('associated');

      await c.engine.execute(command('revokeNode', { nodeId: 'gw', reason: 'keyCompromise' }, { actor: operator }));
      await quiesce(c, live);
      for (const k of [1, 2]) expect((await c.engine.view('credential', `gw-c${k}`)).state).toBe('revoked');
      for (const i of [1, 2, 3, 4]) expect((await c.engine.view('association', `gw-a${i}`)).state).toBe('revoked');

      // The read models followed too, and every component reports the head with no lag and no error.
      const dangling = c.readModels.prepare("SELECT COUNT(*) AS n FROM compliance_associations WHERE status = 'revoked'").get();
      expect(dangling).toEqual({ n: 4n });
      const head = String(await c.store.headPosition());
      const status = await live.status();
      expect(status.map((s) => s.name)).toEqual(['cascade', 'expiry', 'audit', 'compliance', 'entities', 'pki', 'transparency']);
      for (const s of status) expect(s).toEqual({ name: s.name, checkpoint: head, head, eventsBehind: 0, secondsBehind: 0 });
      expect(live.lag()).toEqual({ eventsBehind: 0, secondsBehind: 0 });
    } finally {
      await live.stop();
      await c.close();
    }
  });

  it('expires a credential at its notAfter on the wall clock', async () => {
    const c = openCredence({ location: { dir }, clock: systemClock });
    const live = startLive(c, { tickMs: 100 });
    await live.start();
    try {
      const now = Date.now();
      const iso = (ms: number) => new Date(now + ms).toISOString();
      await c.engine.execute(
        command('createSubscription', { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: iso(-60_000), notAfter: iso(86_400_000) }, { actor: operator }),
      );
      await c.engine.execute(cmd.registerNode('meter-1'));
      await c.engine.execute(cmd.enrolNode('meter-1'));
      await c.engine.execute(cmd.issueCredential('short', 'meter-1', iso(1500), { notBefore: iso(-60_000) }));
      expect((await c.engine.view('credential', 'short')).state).toBe('initialized');

      await vi.waitFor(async () => expect((await c.engine.view('credential', 'short')).state).toBe('expired'), { timeout: 10_000, interval: 100 });
      const expired = (await c.store.readStream('credential-short')).at(-1)!;
      expect(expired.type).toBe('CredentialExpired');
      expect(expired.metadata['actor']).toEqual({ id: 'system:expiry-scheduler', role: 'system' });
      expect(Date.parse(String(expired.metadata['occurredAt']))).toBeGreaterThanOrEqual(now + 1500);
    } finally {
      await live.stop();
      await c.close();
    }
  });

  it('stop() signs a transparency checkpoint over every stored event, once however often it is called', async () => {
    const c = openCredence({ location: { dir }, clock: new FakeClock(T0) });
    // No periodic checkpoint during the test: only stop() can sign the one we look for.
    const live = startLive(c, { tickMs: 50, checkpointEveryMs: 3_600_000 });
    await live.start();
    await gateway(c);
    await quiesce(c, live);
    const { count } = await footprint(c.store);
    expect(c.transparency!.signedSize).toBeLessThan(count);

    await Promise.all([live.stop(), live.stop()]);
    await live.stop();
    expect(c.transparency!.signedSize).toBe(count);
    // Stopped means stopped: nothing follows the store any more.
    await c.engine.execute(cmd.registerNode('late'));
    expect(await live.caughtUp((await c.store.headPosition())!, 200)).toBe(false);
    await c.close();
  });

  it('reports a failing component through onError and status(), and retries it until it gets past', async () => {
    const c = openCredence({ location: { dir }, clock: new FakeClock(T0) });
    const errors: string[] = [];
    const live = startLive(c, { tickMs: 50, onError: (component, error) => errors.push(`${component}: ${(error as Error).message}`) });
    await live.start();
    try {
      await c.engine.execute(cmd.createSubscription());
      await c.engine.execute(cmd.registerNode('meter-1'));
      await c.engine.execute(cmd.enrolNode('meter-1'));
      await c.engine.execute(cmd.issueCredential('cred-1', 'meter-1'));
      await quiesce(c, live);

      // The cascade's commands fail twice (an outage of the command side), then go through.
      const executeAsSystem = c.engine.executeAsSystem.bind(c.engine);
      let outage = 2;
      (c.engine as { executeAsSystem: typeof executeAsSystem }).executeAsSystem = async (input) => {
        if (outage > 0) {
          outage--;
          throw new Error('command side unavailable');
        }
        return executeAsSystem(input);
      };
      const revoked = await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
      await vi.waitFor(async () => {
        const cascade = (await live.status()).find((s) => s.name === 'cascade')!;
        expect(cascade.error).toBe('command side unavailable');
        expect(cascade.eventsBehind).toBeGreaterThan(0);
      });
      expect(live.lag().eventsBehind).toBeGreaterThan(0);

      expect(await live.caughtUp(revoked.events[0]!.position, 5000)).toBe(true);
      await quiesce(c, live);
      expect((await c.engine.view('credential', 'cred-1')).state).toBe('revoked');
      expect(errors).toEqual(['cascade: command side unavailable', 'cascade: command side unavailable']);
      expect((await live.status()).every((s) => s.error === undefined)).toBe(true);
    } finally {
      await live.stop();
      await c.close();
    }
  });
});
