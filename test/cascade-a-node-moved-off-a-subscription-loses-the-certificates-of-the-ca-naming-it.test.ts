import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { M2MSubId } from '../domain/ids.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { certificateSummary } from '../domain/x509/issuance/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { entityState as state } from './support/credential-holders.ts';
import { cmd, footprint, operator, T0 } from './support/fleet.ts';
import { PKI_TEST_URL } from './support/pki-instance.ts';
import { certifiedCredentialData, testCa, testLeaf } from './support/pki-test-ca.ts';
import { storedRecords } from './support/stored-records.ts';

/*
 * Review 355 left a gap in review 287's cascade: a CA may name the M2M Service Subscription it certifies
 * (`ca init --id sub-a-ca --subscription Sub-A`), but the cascade compared a certificate's recorded issuingCa
 * (`sub-a-ca`) with the id of the subscription a node left (`Sub-A`). meter-1 of Sub-A, certified by sub-a-ca and then
 * enrolled under sub-2, kept that certificate live: Sub-A's relying parties kept accepting a node now sub-2's. The
 * certificate now records the subscription its CA certifies (`issuingCaCertifies`), and the cascade compares with it,
 * else with the issuing CA's id as before; still from the log alone.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const NOW = Date.parse(T0) + 3_600_000;
const DAY = 86_400_000;
const CLOCK = new Date(NOW + 3_600_000).toISOString();
const SUB_A = M2MSubId.parse('Sub-A');

/** issueCredential of meter-1's credential certified by CA `caId`, which names subscription `certifies` when given. */
const certified = async (credentialId: string, caId: string, certifies?: M2MSubId) => {
  const leaf = await testLeaf(await testCa(caId, 'p256', NOW), { baseUrl: PKI_TEST_URL, name: credentialId, now: NOW, validityMs: 30 * DAY });
  return command('issueCredential', certifiedCredentialData(credentialId, leaf.der, caId, certificateSummary(leaf.der, caId, certifies)), { actor: operator });
};

/** Sub-A and sub-2; meter-1 enrolled under Sub-A with svc-a (CA sub-a-ca, naming Sub-A), and sa-1 established on it. */
const fleet = async (engine: Pick<Engine, 'execute'>): Promise<void> => {
  for (const c of [
    cmd.createSubscription('Sub-A'),
    cmd.createSubscription('sub-2'),
    cmd.registerNode(),
    cmd.enrolNode('meter-1', 'Sub-A'),
    await certified('svc-a', 'sub-a-ca', SUB_A),
    cmd.provisionCredential('svc-a'),
    cmd.configureAssociation('sa-1', 'svc-a'),
    cmd.establishAssociation('sa-1'),
  ]) {
    await engine.execute(c);
  }
};

const opened = async (): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(CLOCK) }));
  await fleet(c.engine);
  await c.settle();
  return c;
};

const revocationsOf = async (store: EventStore, credentialId: string) =>
  (await storedRecords(store)).filter((r) => r.streamId === `credential-${credentialId}` && r.type === 'CredentialRevoked').map((r) => r.data['reason']);

/** Rebuilt from position 0: found done, nothing written, and the replay agrees. */
const rebuiltAlike = async (c: Credence): Promise<void> => {
  const before = await footprint(c.store);
  await c.runner.rebuild('cascade');
  await c.settle();
  expect(await footprint(c.store)).toEqual(before);
  expect((await replayAll(c.store)).findings).toEqual([]);
};

describe('a node moved off a subscription loses the certificates of the CA naming that subscription (review 355)', () => {
  it('records the subscription the CA names with the certificate', async () => {
    const c = await opened();
    const issued = (await storedRecords(c.store)).find((r) => r.streamId === 'credential-svc-a' && r.type === 'CredentialIssued')!;
    expect(issued.data['certificate']).toMatchObject({ issuingCa: 'sub-a-ca', issuingCaCertifies: 'Sub-A' });
  });

  it('svc-a is revoked affiliationChanged once when meter-1 is enrolled under sub-2, sa-1 with it; a rebuild decides alike', async () => {
    const c = await opened();
    await c.engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-a')).toEqual(['svc-a', 'revoked', 'affiliationChanged']);
    expect(await state(c.engine, 'association', 'sa-1')).toEqual(['sa-1', 'revoked', 'affiliationChanged']);
    expect(await revocationsOf(c.store, 'svc-a')).toEqual(['affiliationChanged']);
    await rebuiltAlike(c);
  });

  it('one of sub-a-ca recorded after the move is revoked on arrival; one of a CA naming sub-2 stays', async () => {
    const c = await opened();
    await c.engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
    await c.settle();
    for (const x of [
      await certified('svc-late', 'sub-a-ca', SUB_A),
      cmd.provisionCredential('svc-late'),
      await certified('svc-2', 'sub-2-ca', M2MSubId.parse('sub-2')),
      cmd.provisionCredential('svc-2'),
    ]) {
      await c.engine.execute(x);
    }
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-late')).toEqual(['svc-late', 'revoked', 'affiliationChanged']);
    expect(await state(c.engine, 'credential', 'svc-2')).toEqual(['svc-2', 'enrolled', undefined]);
    expect(await revocationsOf(c.store, 'svc-late')).toEqual(['affiliationChanged']);
    await rebuiltAlike(c);
  });

  it('a CA whose id is the subscription moved to, naming the one left (sub-2 certifying Sub-A), is judged by the one it names', async () => {
    const c = await opened();
    for (const x of [await certified('svc-named', 'sub-2', SUB_A), cmd.provisionCredential('svc-named')]) await c.engine.execute(x);
    await c.engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-named')).toEqual(['svc-named', 'revoked', 'affiliationChanged']);
    await rebuiltAlike(c);
  });

  it('a cascade that first meets the log revokes what such a move left live; a rebuild after writes nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(CLOCK);
    // Recorded with no cascade running: what the cascade before this fix left.
    const engine = createEngine({ store, clock });
    await fleet(engine);
    await engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
    const c = (credence = openCredence({ location: { memory: true }, clock, store }));
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-a')).toEqual(['svc-a', 'revoked', 'affiliationChanged']);
    expect(await state(c.engine, 'association', 'sa-1')).toEqual(['sa-1', 'revoked', 'affiliationChanged']);
    await rebuiltAlike(c);
  });

  it('refuses a certificate naming the subscription its CA certifies without that CA, or of CA default', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(CLOCK) }));
    for (const x of [cmd.createSubscription('Sub-A'), cmd.registerNode(), cmd.enrolNode('meter-1', 'Sub-A')]) await c.engine.execute(x);
    const leaf = await testLeaf(await testCa('sub-a-ca', 'p256', NOW), { baseUrl: PKI_TEST_URL, name: 'svc-x', now: NOW, validityMs: 30 * DAY });
    const summary = certificateSummary(leaf.der, 'sub-a-ca', SUB_A);
    const refusal = async (certificate: Record<string, unknown>) => {
      const error = await c.engine
        .execute(command('issueCredential', certifiedCredentialData('svc-x', leaf.der, 'sub-a-ca', certificate), { actor: operator }))
        .then(() => undefined, (e: unknown) => e as { problem?: { code: string; issues?: { path: string; rule: string }[] } });
      return { code: error?.problem?.code, issues: error?.problem?.issues?.map(({ path, rule }) => ({ path, rule })) };
    };
    const { issuingCa: _ca, ...withoutCa } = summary;
    expect(await refusal(withoutCa)).toEqual({ code: 'validation', issues: [{ path: 'data.certificate.issuingCaCertifies', rule: 'issuing_ca_certifies' }] });
    expect((await refusal({ ...certificateSummary(leaf.der, 'default'), issuingCaCertifies: 'Sub-A' })).issues).toContainEqual({
      path: 'data.certificate.issuingCaCertifies',
      rule: 'issuing_ca_certifies',
    });
    expect(await refusal({ ...summary, issuingCaCertifies: 'a b' })).toMatchObject({ code: 'validation' });
    expect(await c.store.readStream('credential-svc-x')).toEqual([]);
    // With its CA, it is recorded.
    await c.engine.execute(command('issueCredential', certifiedCredentialData('svc-x', leaf.der, 'sub-a-ca', summary), { actor: operator }));
    expect(await c.store.readStream('credential-svc-x')).toHaveLength(1);
  });
});
