import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 249 (B). A credential's purpose was never checked against its owner: `--purpose application --owner
 * node:meter-1` was issued, provisioned and authenticated a CSE association; `--purpose bootstrap` was issued to
 * `app:RA` and to `ae:Cx@app:RA`. Machines v10 (purposeFitsOwner): a bootstrap credential is a node's factory
 * credential (seed 003 11.2.1, remote provisioning on pre-existing credentials in M2M Nodes); an application one an
 * App-ID's (11.2.2) or one of its AEs'; a service one a node's, a CSE's or an AE's. Refused at issue, nothing written.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const world = async () => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  for (const x of [
    cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(),
    command('registerApplication', { appId: 'RA', name: 'billing', provider: 'City Utilities' }, { actor: operator }),
  ]) await c.engine.execute(x);
  return c;
};

const issue = (credentialId: string, purpose: string, owner: Record<string, unknown>) => cmd.issueCredential(credentialId, 'meter-1', at(300), { purpose, owner });
const node = { kind: 'node', id: 'meter-1' };
const app = { kind: 'app', id: 'RA' };
const ae = { kind: 'ae', id: 'Cx', appId: 'RA' };
const cse = { kind: 'cse', id: '/cse-meter-1', nodeId: 'meter-1' };

describe('a credential is issued only for a purpose its owner kind takes (review 249)', () => {
  it.each([
    ['application', node, 'node:meter-1 is a node', 'bootstrap or service'],
    ['bootstrap', app, 'app:RA is an App-ID', 'application'],
    ['bootstrap', ae, 'ae:Cx@app:RA is an AE', 'service or application'],
    ['bootstrap', cse, 'cse:/cse-meter-1@node:meter-1 is a CSE', 'service'],
    ['service', app, 'app:RA is an App-ID', 'application'],
    ['application', cse, 'cse:/cse-meter-1@node:meter-1 is a CSE', 'service'],
  ])('refuses purpose %s for %j, naming the owner kind, the purpose and what it takes, and writes nothing', async (purpose, owner, owned, allowed) => {
    const c = await world();
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(issue('c-x', purpose, owner)));
    expect(await footprint(c.store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', attempted: 'CredentialIssued', rule: 'purposeFitsOwner' });
    expect(error.message).toMatch(new RegExp(`; credential c-x has purpose ${purpose}, and its owner .* takes only .*$`));
    expect(error.message.endsWith(`credential c-x has purpose ${purpose}, and its owner ${owned}, which takes only ${allowed}`), error.message).toBe(true);
  });

  it('issues each purpose its owner kind takes, and replay finds nothing to flag', async () => {
    const c = await world();
    for (const [id, purpose, owner] of [
      ['n-boot', 'bootstrap', node], ['n-svc', 'service', node], ['cse-svc', 'service', cse],
      ['app-app', 'application', app], ['ae-svc', 'service', ae], ['ae-app', 'application', ae],
    ] as const) {
      expect((await c.engine.execute(issue(id, purpose, owner))).state, id).toBe('initialized');
    }
    await c.settle();
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it("no longer lets a node's credential of purpose application authenticate its CSE association", async () => {
    const c = await world();
    expect((await rejection(c.engine.execute(issue('app-for-node', 'application', node)))).problem).toMatchObject({ rule: 'purposeFitsOwner' });
    // Nothing was recorded to provision, nor to configure an association on.
    expect((await rejection(c.engine.execute(cmd.provisionCredential('app-for-node')))).problem).toMatchObject({ code: 'not_found' });
    expect((await rejection(c.engine.execute(cmd.configureAssociation('sa-1', 'app-for-node')))).problem).toMatchObject({ code: 'illegal_transition', rule: 'credentialUsable' });
  });
});
