/**
 * Review 187 (2, medium), PSK remote provisioning: with the Enrolment Function's keys in SoftHSM2
 * (`x-derivation=host`), the token's sessions lost between the hello and the auth (C_CloseAllSessions on its slot)
 * took the Enrolment Function's ephemeral key; the auth was answered 422 `invalid_ephemeral_key`, blaming the node.
 * It is the run lost, `unknown_session`, so the node starts a new run, and the next provisioning succeeds.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { openCredence, openHsmLogKey } from '../adapters/runtime/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';
import { softHsm, softHsmMissing, withSoftHsmModule } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));

describe.skipIf(softHsmMissing !== undefined)('a PSK remote provisioning whose Enrolment Function ephemeral key a lost token session took', () => {
  const hsm = softHsm();
  const token = hsm.token('si');
  const dir = mkdtempSync(join(tmpdir(), 'credence-pkcs11-lost-provisioning-'));
  afterAll(() => {
    hsm.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the auth is told unknown_session, not invalid_ephemeral_key, and a new run provisions', async () => {
    const clock = new FakeClock(T0);
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
    const logKey = await openHsmLogKey(dir, se);
    const credence = openCredence({ location: { dir }, clock, security: { se, random, actor: operator }, ...(logKey.place === 'hsm' ? { transparencySigner: logKey.signer } : {}) });
    const deviceSe = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => clock.now(), random: seededRandom('lost-provisioning-device') });
    const device = new Device({ nodeId: 'meter-1', se: deviceSe, now: () => clock.now(), random: seededRandom('lost-provisioning-protocol') });
    try {
      await withSoftHsmModule(async (module) => {
        const { procedures } = await credence.security();
        const { engine } = credence;
        await engine.execute({ type: 'createSubscription', data: { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: T0, notAfter: at(2 * 365) }, metadata: { actor: operator } });
        await procedures.preProvision({ device, profile, bootstrapCredentialId: 'meter-1-boot', kind: 'psk256', validity: { notBefore: T0, notAfter: at(5 * 365) } });
        await engine.execute({ type: 'enrolNode', data: { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/meter-1-cse' }, metadata: { actor: operator } });
        // Given the token's sessions lost once the auth's proof is being checked (after the hello made the ephemeral key)
        const slot = module.C_GetSlotList(true).find((s) => module.C_GetTokenInfo(s).label.trim() === token.label)!;
        const verifyMac = se.verifyMac.bind(se);
        let armed = true;
        se.verifyMac = async (...args: Parameters<typeof se.verifyMac>) => {
          if (armed) {
            armed = false;
            module.C_CloseAllSessions(slot);
          }
          return verifyMac(...args);
        };
        // When the node authenticates, Then the run is told lost, not the node's key refused
        const refused = await procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'psk256' }).catch((e: unknown) => e);
        expect(armed).toBe(false);
        expect(isCredenceError(refused, 'protocol') && refused.problem).toMatchObject({ step: 'provisioning.auth', reason: 'unknown_session' });
        // and a new run provisions
        await procedures.provisionRemotely({ device, credentialId: 'meter-1-svc2', kind: 'psk256' });
        expect(String((await engine.entity('credential', 'meter-1-svc2')).snapshot.value)).toBe('enrolled');
      });
    } finally {
      await credence.close();
      se.close();
      deviceSe.close();
    }
  });
});
