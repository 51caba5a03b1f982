import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { M2MSubId } from '../domain/ids.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { certificateSummary } from '../domain/x509/issuance/index.ts';
import { issuedByOurCa } from '../projections/pki/index.ts';
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

/*
 * Review 357: the engine's check that a certificate is its CA's (issuedByOurCa) never compared the subscription it
 * records its CA certifies with the one the loaded CA names. A certificate of sub-a-ca (naming Sub-A), recorded again
 * from its issued-certificates journal line (`credence command issueCredential --data @issue.json`) without the field,
 * or claiming sub-2, was accepted, and the cascade then kept it live once its node left Sub-A.
 */
describe('a certificate recorded with its CA says the subscription that CA names, or none with it (review 357)', () => {
  const refusedWith = async (engine: Pick<Engine, 'execute'>, credentialId: string, certificate: Record<string, unknown>, der: Uint8Array, caId: string) => {
    const error = await engine
      .execute(command('issueCredential', certifiedCredentialData(credentialId, der, caId, certificate), { actor: operator }))
      .then(() => undefined, (e: unknown) => e as { problem?: { code: string; issues?: { path: string; rule: string; message: string }[] } });
    return { code: error?.problem?.code, issues: error?.problem?.issues };
  };

  it('refuses a certificate of sub-a-ca (naming Sub-A) without issuingCaCertifies, or claiming sub-2; records it as journalled', async () => {
    const ca = await testCa('sub-a-ca', 'p256', NOW);
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(CLOCK), checks: [issuedByOurCa([{ ...ca, subscription: SUB_A }])] });
    for (const c of [cmd.createSubscription('Sub-A'), cmd.createSubscription('sub-2'), cmd.registerNode(), cmd.enrolNode('meter-1', 'Sub-A')]) await engine.execute(c);
    const leaf = await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'svc-j', now: NOW, validityMs: 30 * DAY });
    // What the journal holds of it since c220049d: the summary with the subscription its CA names.
    const journalled = certificateSummary(leaf.der, 'sub-a-ca', SUB_A);
    const { issuingCaCertifies: _certifies, ...dropped } = journalled;

    const withoutField = await refusedWith(engine, 'svc-j', dropped, leaf.der, 'sub-a-ca');
    expect(withoutField.code).toBe('validation');
    expect(withoutField.issues?.map(({ path, rule }) => ({ path, rule }))).toEqual([{ path: 'data.certificate.issuingCaCertifies', rule: 'issuing_ca_certifies' }]);
    // A journal line written before certificates recorded it: the operator is told what to add.
    expect(withoutField.issues?.[0]?.message).toContain('"issuingCaCertifies": "Sub-A"');

    const claimingSub2 = await refusedWith(engine, 'svc-j', { ...journalled, issuingCaCertifies: 'sub-2' }, leaf.der, 'sub-a-ca');
    expect(claimingSub2.issues?.map(({ path, rule }) => ({ path, rule }))).toEqual([{ path: 'data.certificate.issuingCaCertifies', rule: 'issuing_ca_certifies' }]);
    expect(claimingSub2.issues?.[0]?.message).toContain('must be Sub-A, the M2M Service Subscription CA sub-a-ca certifies, not sub-2');
    expect(await store.readStream('credential-svc-j')).toEqual([]);

    await engine.execute(command('issueCredential', certifiedCredentialData('svc-j', leaf.der, 'sub-a-ca', journalled), { actor: operator }));
    expect(await store.readStream('credential-svc-j')).toHaveLength(1);
  });

  it('refuses a certificate of a CA naming no subscription (sub-2, certifying that of its id) that claims one', async () => {
    const ca = await testCa('sub-2', 'p256', NOW);
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(CLOCK), checks: [issuedByOurCa([ca])] });
    for (const c of [cmd.createSubscription('Sub-A'), cmd.registerNode(), cmd.enrolNode('meter-1', 'Sub-A')]) await engine.execute(c);
    const leaf = await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'svc-n', now: NOW, validityMs: 30 * DAY });
    const refused = await refusedWith(engine, 'svc-n', certificateSummary(leaf.der, 'sub-2', SUB_A), leaf.der, 'sub-2');
    expect(refused.issues?.map(({ path, rule }) => ({ path, rule }))).toEqual([{ path: 'data.certificate.issuingCaCertifies', rule: 'issuing_ca_certifies' }]);
    expect(await store.readStream('credential-svc-n')).toEqual([]);
    await engine.execute(command('issueCredential', certifiedCredentialData('svc-n', leaf.der, 'sub-2'), { actor: operator }));
    expect(await store.readStream('credential-svc-n')).toHaveLength(1);
  });
});
