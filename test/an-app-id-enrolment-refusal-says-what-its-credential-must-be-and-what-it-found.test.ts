import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import type { JsonObject } from '../domain/ports/event-store.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Found in review 54: `credential issue app-cred --purpose service --owner app:Rbilling` is accepted, and
 * `application enrol Rbilling --credential app-cred` was then refused "ApplicationEnrolled refused in state initialized
 * by rule credentialIsForThisApp", with nothing the user saw saying that an App-ID takes a credential of purpose
 * `application`. The machine still decides (credentialIsForThisApp, unchanged); once it has refused, the message says
 * what the rule asks and what it found (application.machine.ts applicationRefusals). The problem's members stay the
 * verdict's, and replay judges the stored history as before.
 *
 * Since review 249 (machines v10, purposeFitsOwner) such a credential is refused at its issue: an App-ID takes a
 * credential of purpose application only. One an earlier version stored is still read, and enrolment refuses it so.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const APP = 'Rbilling';
const ASKS = `App-ID ${APP} takes a credential of purpose application, owned by app:${APP} and not ended`;
const enrol = (credentialId: string) => command('enrolApplication', { appId: APP, credentialId }, { actor: operator });
const issue = (credentialId: string, purpose: string, owner: Record<string, unknown>) =>
  cmd.issueCredential(credentialId, 'meter-1', at(300), { purpose, owner });

const open = async () => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(x);
  await c.engine.execute(command('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' }, { actor: operator }));
  return c;
};

/** The refusal of enrolling the App-ID with `credentialId`, after checking it wrote nothing. */
const refusal = async (c: Credence, credentialId: string) => {
  const before = await footprint(c.store);
  const error = await rejection(c.engine.execute(enrol(credentialId)));
  expect(await footprint(c.store)).toEqual(before);
  return error;
};

describe('an App-ID enrolment refused by credentialIsForThisApp says what the credential must be and what it is', () => {
  it("names the purpose it found on a credential issued to the App-ID with --purpose service, and the problem's members are the verdict's", async () => {
    const c = await open();
    // Stored by a version before v10, which issued it; the engine reads it as stored.
    await forge(c.store, 'credential-app-cred', 'CredentialIssued', issue('app-cred', 'service', { kind: 'app', id: APP }).data as JsonObject, T0);
    const error = await refusal(c, 'app-cred');
    expect(error.message).toBe(
      `application-${APP}: ApplicationEnrolled refused in state initialized by rule credentialIsForThisApp: ${ASKS}; credential app-cred has purpose service`,
    );
    expect(error.problem).toEqual({
      code: 'illegal_transition',
      streamId: `application-${APP}`,
      state: 'initialized',
      attempted: 'ApplicationEnrolled',
      allowed: ['ApplicationEnrolled', 'ApplicationInstanceReleased', 'ApplicationRevoked'],
      rule: 'credentialIsForThisApp',
      message: error.message,
    });
  });

  it("names another owner, a credential that ended and one that is not recorded", async () => {
    const c = await open();
    await c.engine.execute(issue('node-cred', 'service', { kind: 'node', id: 'meter-1' }));
    expect((await refusal(c, 'node-cred')).message).toMatch(new RegExp(`${ASKS}; credential node-cred has purpose service and is owned by node:meter-1$`));
    await c.engine.execute(command('registerApplication', { appId: 'Rother', name: 'other', provider: 'City Utilities' }, { actor: operator }));
    await c.engine.execute(issue('other-app-cred', 'application', { kind: 'app', id: 'Rother' }));
    expect((await refusal(c, 'other-app-cred')).message).toMatch(/; credential other-app-cred is owned by app:Rother$/);
    await c.engine.execute(issue('ended-cred', 'application', { kind: 'app', id: APP }));
    await c.engine.execute(cmd.revokeCredential('ended-cred'));
    expect((await refusal(c, 'ended-cred')).message).toMatch(/; credential ended-cred is revoked$/);
    expect((await refusal(c, 'no-such-cred')).message).toMatch(new RegExp(`${ASKS}; credential no-such-cred is not recorded$`));
  });

  it('enrols as before with a credential of purpose application owned by the App-ID, and replay finds nothing to refuse', async () => {
    const c = await open();
    // A credential of purpose service is refused to the App-ID at its issue now (review 249), writing nothing.
    const before = await footprint(c.store);
    expect((await rejection(c.engine.execute(issue('app-cred', 'service', { kind: 'app', id: APP })))).problem).toMatchObject({ rule: 'purposeFitsOwner' });
    expect(await footprint(c.store)).toEqual(before);
    await c.engine.execute(issue('app-cred-2', 'application', { kind: 'app', id: APP }));
    await c.engine.execute(cmd.provisionCredential('app-cred-2'));
    expect((await c.engine.execute(enrol('app-cred-2'))).state).toBe('enrolled');
    await c.settle();
    expect((await replayAll(c.store)).findings).toEqual([]);
  });
});
