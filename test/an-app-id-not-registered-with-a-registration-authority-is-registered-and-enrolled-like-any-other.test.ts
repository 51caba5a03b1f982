import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';

/*
 * Seed 003 11.2.2, review 165 (F5): pins what README.md and docs/service.md say. Enrolment assumes an App-ID
 * registered with an M2M application registration authority (an R-prefixed App-ID); Credence does not check that. An
 * N-prefixed App-ID (not registered with one, domain/ids.ts) is registered, enrolled and associated like any other.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

describe('an N-prefixed App-ID', () => {
  it('is registered, enrolled, and its AE associates', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [
      cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(),
      command('registerApplication', { appId: 'Nlocal', name: 'local', provider: 'City Utilities' }, { actor: operator }),
      cmd.issueCredential('n-cred', 'Nlocal', at(300), { purpose: 'application', owner: { kind: 'app', id: 'Nlocal' } }),
      cmd.provisionCredential('n-cred'),
      command('enrolApplication', { appId: 'Nlocal', credentialId: 'n-cred' }, { actor: operator }),
      command(
        'configureAssociation',
        { associationId: 'sa-n', nodeId: 'meter-1', credentialId: 'n-cred', registree: { kind: 'ae', id: 'Clocal', appId: 'Nlocal' }, registrarCseId: '/in-cse' },
        { actor: operator },
      ),
      cmd.establishAssociation('sa-n'),
    ]) await c.engine.execute(x);
    await c.settle();
    expect(String((await c.engine.entity('application', 'Nlocal')).snapshot.value)).toBe('associated');
    expect(String((await c.engine.entity('association', 'sa-n')).snapshot.value)).toBe('associated');
  });
});
