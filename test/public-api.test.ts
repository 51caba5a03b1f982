import { describe, expect, it } from 'vitest';
import * as credence from 'credence';

describe("the public entry point (package.json exports, adapters/runtime/index.ts)", () => {
  it('names what a library user needs, importable by the package name', () => {
    expect(Object.keys(credence).sort()).toEqual([
      'COMMAND_TYPES',
      'CredenceError',
      'EmbeddedSecureEnvironment',
      'FakeClock',
      'Pkcs11SecureEnvironment',
      'PkiIncomplete',
      'PublicationUnrecorded',
      'SERVICE_LOCK_FILE',
      'StoreConnectionString',
      'checkpointWitnessFile',
      'command',
      'createEngine',
      'isCommandIdReused',
      'isCredenceError',
      'lifecycleEvents$',
      'loadIssuingCas',
      'lockDataFolder',
      'openAccessRegistry',
      'openCredence',
      'openDataFolderSecureEnvironment',
      'openEventStoreDbStore',
      'openHsmLogKey',
      'openSecureEnvironmentLogKey',
      'openServiceSecureEnvironment',
      'openSqliteStore',
      'openSqliteStoreInDir',
      'openStore',
      'parseCommand',
      'parseLifecycleFilter',
      'parsePkcs11Uri',
      'publicEvents$',
      'readSigningPolicyFile',
      'replayAll',
      'replayEntity',
      'secureEnvironmentConfigForDataDir',
      'signCommand',
      'startLive',
      'startPkiRevocation',
      'systemClock',
      'systemRandom',
      'verifyEvidenceBundle',
    ]);
  });

  it("runs the README's example: a command through the engine, a typed refusal, a clean replay", async () => {
    const store = credence.openSqliteStore({ memory: true });
    const engine = credence.createEngine({ store, clock: new credence.FakeClock('2026-01-01T00:00:00.000Z') });
    const alice = { id: 'operator:alice', role: 'operator' } as const;
    await engine.execute(credence.command('createSubscription', { subscriptionId: 'city-utilities', subscriber: 'City Utilities', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z' }, { actor: alice }));
    const refused = await engine
      .execute(credence.command('revokeCredential', { credentialId: 'meter-3-service', reason: 'keyCompromise' }, { actor: alice }))
      .catch((error: unknown) => error);
    expect(credence.isCredenceError(refused, 'not_found')).toBe(true);
    expect((await credence.replayAll(store)).findings).toEqual([]);
    await store.close();
  });
});
