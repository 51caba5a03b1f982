import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, fixture, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 343 (seed 003 11.2.2; REQUIREMENTS 11.2.2: an enrolment never takes a credential the App-ID could not use
 * now): an App-ID was enrolled with (or moved onto) a credential whose rotation's overlap had ended, before the expiry
 * scheduler's tick recorded the handover, though an AE association configured on it was then refused (credentialUsable:
 * a credential hands over to its successor at the end of the overlap). Both enrolment paths now hold the credential to
 * the same usable-at rule (credentialUsableAt), by rule credentialBeforeOverlapEnds.
 */

const APP = 'Rbilling';
const appCredential = (credentialId: string, extra: Record<string, unknown> = {}) =>
  command('issueCredential', {
    ...cmd.issueCredential(credentialId, APP, at(90)).data,
    purpose: 'application', owner: { kind: 'app', id: APP }, notBefore: T0, notAfter: at(90), ...extra,
  }, { actor: operator });
const enrol = (credentialId: string) => command('enrolApplication', { appId: APP, credentialId }, { actor: operator });

/** Rbilling registered; app-cred-1 provisioned and rotating onto app-cred-2 (provisioned), the overlap ending at day 30. */
const rotating = async () => {
  const f = fixture();
  for (const c of [
    command('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' }, { actor: operator }),
    appCredential('app-cred-1'), cmd.provisionCredential('app-cred-1'),
    appCredential('app-cred-2', { predecessorId: 'app-cred-1' }), cmd.provisionCredential('app-cred-2'),
    cmd.startCredentialRotation(at(30), 'app-cred-1', 'app-cred-2'),
  ]) await f.engine.execute(c);
  return f;
};

describe('an App-ID is not enrolled with a credential past its rotation\'s overlap (review 343, seed 003 11.2.2)', () => {
  it('refuses a first enrolment at the end of the overlap, before the scheduler\'s tick, writing nothing; takes the successor', async () => {
    const { store, clock, engine } = await rotating();
    clock.set(new Date(at(30)));
    const before = await footprint(store);
    const error = await rejection(engine.execute(enrol('app-cred-1')));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized', attempted: 'ApplicationEnrolled', rule: 'credentialBeforeOverlapEnds' });
    expect(error.message).toContain(`credential app-cred-1 is past the end of its rotation's overlap at ${at(30)}`);
    expect(await footprint(store)).toEqual(before);
    expect((await engine.entity('credential', 'app-cred-1')).snapshot.value).toBe('enrolled');
    await engine.execute(enrol('app-cred-2'));
    expect((await engine.entity('application', APP)).snapshot).toMatchObject({ value: 'enrolled', context: { credentialId: 'app-cred-2' } });
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('refuses a move onto it too, and takes either while the overlap lasts', async () => {
    const { store, clock, engine } = await rotating();
    clock.set(new Date(Date.parse(at(30)) - 1));
    await engine.execute(enrol('app-cred-2'));
    await engine.execute(command('enrolApplication', { appId: APP, credentialId: 'app-cred-1', replaces: 'app-cred-2' }, { actor: operator }));
    await engine.execute(command('enrolApplication', { appId: APP, credentialId: 'app-cred-2', replaces: 'app-cred-1' }, { actor: operator }));
    clock.set(new Date(at(31)));
    const before = await footprint(store);
    const error = await rejection(engine.execute(command('enrolApplication', { appId: APP, credentialId: 'app-cred-1', replaces: 'app-cred-2' }, { actor: operator })));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'enrolled', attempted: 'ApplicationEnrolled', rule: 'credentialBeforeOverlapEnds' });
    expect(error.message).toContain('App-ID Rbilling');
    expect(await footprint(store)).toEqual(before);
    expect((await engine.entity('application', APP)).snapshot.context).toMatchObject({ credentialId: 'app-cred-2' });
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('replay flags an enrolment an earlier version stored past the overlap, by a rule newer than it', async () => {
    const { store } = await rotating();
    // What v13 accepted: a first enrolment at day 31, the overlap over and the scheduler's tick not come.
    await forge(store, `application-${APP}`, 'ApplicationEnrolled', { appId: APP, credentialId: 'app-cred-1' }, at(31));
    const { findings } = await replayAll(store);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ streamId: `application-${APP}`, type: 'ApplicationEnrolled' });
    expect(findings[0]!.reason).toContain('by rule credentialBeforeOverlapEnds');
    expect(findings[0]!.reason.endsWith('(rule since credence:machines:v14: an event stored by an earlier version may break it; see docs/service.md, Upgrading)')).toBe(true);
  });
});
