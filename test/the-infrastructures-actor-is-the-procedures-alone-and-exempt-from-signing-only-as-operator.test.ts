/**
 * Review 147: no request-signing policy requires the signature of `maf:infrastructure`, the actor the Enrolment
 * Function and the Registrar CSE record device procedures under. The exemption held for the id under any role, and
 * the engine did not reserve the id: over HTTP a token's subject cannot be `maf:…`, but a library caller (an
 * application mapping its users to actor ids) recorded unsigned commands under `require: 'all'` by claiming
 * `{ id: 'maf:infrastructure', role: 'operator' }` (or `auditor`). The id is now refused to every `execute`, admitted
 * only through `executeAsInfrastructure` (the procedures' path), and exempt only as `operator`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { command, parseCommand, type CommandType } from '../domain/commands/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { Actor } from '../domain/metadata.ts';
import { INFRASTRUCTURE_ACTOR_ID, requestVerifier, signCommand, type RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { at, cmd, footprint, operator, profile, rejection, T0 } from './support/fleet.ts';
import { InspectableSecureEnvironment } from './support/inspectable-secure-environment.ts';

const AUDIENCE = 'credence:city-utilities';
const INFRASTRUCTURE: Actor = { id: INFRASTRUCTURE_ACTOR_ID, role: 'operator' };
const aliceKey = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const requireAll: RequestSigningPolicyInput = {
  audience: AUDIENCE,
  require: 'all',
  keys: [{ actorId: operator.id, roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(aliceKey.publicKey) }],
};

/** `type` with `data` as the operator, signed with the operator's registered key at T0. */
const signedByAlice = (type: CommandType, data: Record<string, unknown>) =>
  signCommand(
    { ...command(type, data, { actor: operator }), metadata: { actor: operator, commandId: crypto.randomUUID() } },
    { algorithm: 'ed25519', secretKey: aliceKey.secretKey },
    { audience: AUDIENCE, issuedAt: new Date(T0), lifetimeSeconds: 300 },
  );

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const inMemory = (signing?: RequestSigningPolicyInput) => {
  const credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0), ...(signing !== undefined ? { signing } : {}) });
  cleanups.push(() => credence.close());
  return credence;
};

describe("the infrastructure's actor id is refused to a library caller (review 147)", () => {
  it.each([
    ['under require: all', requireAll],
    ['without a signing policy', undefined],
  ] as const)('%s: the id claimed as operator or auditor, in any letter case, is unauthorised and nothing is written', async (_, signing) => {
    const credence = inMemory(signing);
    const before = await footprint(credence.store);
    const claims: Actor[] = [
      INFRASTRUCTURE,
      { id: INFRASTRUCTURE_ACTOR_ID, role: 'auditor' },
      { id: 'MAF:Infrastructure', role: 'operator' },
    ];
    for (const actor of claims) {
      const build = actor.role === 'auditor'
        ? command('resolvePseudonym', { pseudonym: `p-${'a'.repeat(26)}`, reason: 'incident' }, { actor })
        : { ...cmd.createSubscription(), metadata: { actor } };
      const error = await rejection(credence.engine.execute(build));
      expect(error.problem, actor.id).toMatchObject({ code: 'unauthorised', actor: actor.id });
      expect(error.message).toMatch(/maf:infrastructure is reserved to the Enrolment Function and the Registrar CSE/);
    }
    expect(await footprint(credence.store)).toEqual(before);
  });

  it('while a caller with no key is refused as unsigned, and the engine records the id only through its own path', async () => {
    const credence = inMemory(requireAll);
    const unsigned = await rejection(credence.engine.execute(cmd.createSubscription()));
    expect(unsigned.problem.code).toBe('bad_signature');
    expect(await footprint(credence.store)).toEqual({ head: undefined, count: 0 });

    const recorded = await credence.engine.executeAsInfrastructure({ ...cmd.registerNode(), metadata: { actor: INFRASTRUCTURE } });
    expect(recorded.state).toBe('initialized');
  });

  it("the procedures' path records their commands only: any other is unauthorised, unsigned or not, and nothing is written", async () => {
    const credence = inMemory(requireAll);
    await credence.engine.execute(signedByAlice('createSubscription', { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: T0, notAfter: at(365) }));
    await credence.engine.execute(signedByAlice('registerNode', { nodeId: 'meter-1', profile }));
    const before = await footprint(credence.store);
    for (const built of [cmd.createSubscription('sub-2'), cmd.enrolNode(), command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: INFRASTRUCTURE })]) {
      const error = await rejection(credence.engine.executeAsInfrastructure({ ...built, metadata: { actor: INFRASTRUCTURE } }));
      expect(error.problem, built.type).toMatchObject({ code: 'unauthorised', actor: INFRASTRUCTURE_ACTOR_ID });
      expect(error.message).toContain(`not ${built.type}`);
    }
    expect(await footprint(credence.store)).toEqual(before);
  });

  it('the procedures\' path admits the id as operator only, and nothing more than execute does', async () => {
    const credence = inMemory(requireAll);
    for (const actor of [{ id: INFRASTRUCTURE_ACTOR_ID, role: 'auditor' }, { id: 'MAF:INFRASTRUCTURE', role: 'operator' }, { id: INFRASTRUCTURE_ACTOR_ID, role: 'system' }] as const) {
      const error = await rejection(credence.engine.executeAsInfrastructure({ ...cmd.createSubscription(), metadata: { actor } }));
      expect(error.problem, `${actor.id} ${actor.role}`).toMatchObject({ code: 'unauthorised', actor: actor.id });
    }
    // Another id through it is held to the policy as through execute: no exemption comes with the path.
    const other = await rejection(credence.engine.executeAsInfrastructure({ ...cmd.registerNode(), metadata: { actor: { id: 'operator:bob', role: 'operator' } } }));
    expect(other.problem.code).toBe('bad_signature');
    expect(await footprint(credence.store)).toEqual({ head: undefined, count: 0 });
  });
});

describe('the signing exemption is the infrastructure actor as operator, not its id under any role (review 147)', () => {
  const verify = requestVerifier({ audience: AUDIENCE, require: 'all' });
  const now = { now: new Date(T0) };
  /** The command as the engine's admission hands it to the verifier: parsed, with its command id. */
  const parsed = (built: { type: string; data: unknown; metadata: { actor: Actor } }) =>
    parseCommand({ ...built, metadata: { ...built.metadata, commandId: crypto.randomUUID() } });

  it("exempts maf:infrastructure as operator, for the procedures' commands", () => {
    expect(() => verify(parsed(command('revokeCredential', { credentialId: 'meter-1-svc', reason: 'cessationOfOperation' }, { actor: INFRASTRUCTURE })), now)).not.toThrow();
  });

  it('requires its signature of a command the procedures never send', () => {
    expect(() => verify(parsed(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: INFRASTRUCTURE })), now)).toThrow(/revokeNode must be signed by maf:infrastructure/);
  });

  it('requires a signature of the id under another role', () => {
    const asAuditor = parsed(command('resolvePseudonym', { pseudonym: `p-${'a'.repeat(26)}`, reason: 'incident' }, { actor: { id: INFRASTRUCTURE_ACTOR_ID, role: 'auditor' } }));
    let refused: unknown;
    try {
      verify(asAuditor, now);
    } catch (error) {
      refused = error;
    }
    expect(isCredenceError(refused, 'bad_signature'), String(refused)).toBe(true);
    expect(String(refused)).toMatch(/must be signed by maf:infrastructure/);
  });
});

describe('a device is still provisioned under require: all (review 145 and 147)', () => {
  it('the procedures record as maf:infrastructure, unsigned, while every operator command is signed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-infrastructure-actor-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const clock = new FakeClock(T0);
    const sealed = (name: string, seed: string) =>
      InspectableSecureEnvironment.open(
        { database: join(dir, `${name}.sqlite`), kek: { source: 'inline', key: toBase64url(seededRandom(`${seed}/kek`)(32)) } },
        { now: () => clock.now(), random: seededRandom(seed) },
      );
    const infraSe = sealed('infrastructure-se', 'infrastructure-actor/infrastructure');
    cleanups.push(() => infraSe.close());
    const credence = openCredence({
      location: { dir }, clock, signing: requireAll,
      security: { se: infraSe, random: seededRandom('infrastructure-actor/random'), actor: INFRASTRUCTURE },
    });
    cleanups.push(() => credence.close());
    const { procedures } = await credence.security();
    const deviceSe = sealed('meter-1-se', 'infrastructure-actor/meter-1');
    cleanups.push(() => deviceSe.close());
    const device = new Device({ nodeId: 'meter-1', se: deviceSe, now: () => clock.now(), random: seededRandom('infrastructure-actor/meter-1/protocol') });

    await credence.engine.execute(signedByAlice('createSubscription', { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: T0, notAfter: at(2 * 365) }));
    await procedures.preProvision({ device, profile, bootstrapCredentialId: 'meter-1-boot', kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) } });
    await credence.engine.execute(signedByAlice('enrolNode', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/meter-1-cse' }));
    await procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'ed25519' });

    const credential = await credence.engine.entity('credential', 'meter-1-svc');
    expect(String(credential.snapshot.value)).toBe('enrolled');
    expect(credential.events.map((e) => [e.event.type, e.metadata.actor, e.metadata.signature])).toEqual([
      ['CredentialIssued', INFRASTRUCTURE, undefined],
      ['CredentialProvisioned', INFRASTRUCTURE, undefined],
    ]);
  });
});
