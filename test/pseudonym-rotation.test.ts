import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { Pseudonym } from '../domain/events/pseudonym.ts';
import { DAY, FakeClock, HOUR } from '../adapters/driven/clock/index.ts';
import { hmacSha256, toBase64url, toHex } from '../domain/crypto/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { InspectableSecureEnvironment as EmbeddedSecureEnvironment } from './support/inspectable-secure-environment.ts';
import { type KeyHandle } from '../domain/ports/index.ts';
import { timeline } from '../projections/audit/index.ts';
import {
  base32,
  nodePseudonym,
  prfInput,
  PseudonymDeriver,
  pseudonymHistory,
  resolutions,
  resolvePseudonym,
  secureEnvironmentPseudonymKey,
  type RotationPolicyInput,
} from '../projections/pseudonyms/index.ts';
import { auditor, cmd, footprint, operator, T0 } from './support/fleet.ts';

const OWNER = 'credence:pseudonyms';

const secureEnvironment = async () => {
  const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, {
    now: () => new Date(T0),
    random: (n) => new Uint8Array(randomBytes(n)),
  });
  const handle = await se.generate(OWNER, 'psk256');
  return { se, handle, key: secureEnvironmentPseudonymKey(se.forOwner(OWNER), handle) };
};

const POLICY: RotationPolicyInput = {
  classes: { 'smart-meter': { onAssociation: true }, gateway: { everyMs: DAY } },
};

const open = async (policy: RotationPolicyInput = POLICY) => {
  const { se, handle, key } = await secureEnvironment();
  const clock = new FakeClock(T0);
  const c = openCredence({ location: { memory: true }, clock, pseudonyms: { key, policy } });
  return { c, clock, se, handle, deriver: new PseudonymDeriver(key) };
};

const registerGateway = (nodeId: string) =>
  command('registerNode', { nodeId, profile: { class: 'gateway', manufacturer: 'Acme', model: 'GW-2', capabilities: ['mn-cse'] } }, { actor: operator });

const rotations = async (c: Credence) => {
  const out: { nodeId: string; epoch: number; trigger: string; actor: string }[] = [];
  for await (const r of c.store.readAll({ filter: { eventTypes: ['PseudonymRotated'] } })) {
    const d = r.data as { nodeId: string; epoch: number; trigger: string };
    out.push({ nodeId: d.nodeId, epoch: d.epoch, trigger: d.trigger, actor: (r.metadata['actor'] as { id: string }).id });
  }
  return out;
};

describe('pseudonym derivation', () => {
  it('encodes base32 as RFC 4648 section 10 does (lowercase, unpadded)', () => {
    const vectors: [string, string][] = [['', ''], ['f', 'my'], ['fo', 'mzxq'], ['foo', 'mzxw6'], ['foob', 'mzxw6yq'], ['fooba', 'mzxw6ytb'], ['foobar', 'mzxw6ytboi']];
    for (const [input, output] of vectors) expect(base32(new TextEncoder().encode(input))).toBe(output);
  });

  it('is HMAC-SHA256 under the Secure Environment key over Node-ID and epoch, truncated to 128 bits', async () => {
    const { se, handle, key } = await secureEnvironment();
    const keyBytes = se.exportForTest(handle as KeyHandle);
    const expected = `p-${base32(hmacSha256(keyBytes, prfInput('node', 'meter-1', 4)).subarray(0, 16))}`;
    expect(await new PseudonymDeriver(key).node('meter-1', 4)).toBe(expected);
    expect(Pseudonym.safeParse(expected).success).toBe(true);
  });

  it('differs across epochs and across nodes, is stable within an epoch, and depends on the key', async () => {
    const { key } = await secureEnvironment();
    const nodes = ['meter-1', 'meter-2', 'meter-10', 'gateway-1'];
    const seen = new Set<string>();
    for (const node of nodes) for (let epoch = 0; epoch < 25; epoch++) seen.add(await new PseudonymDeriver(key).node(node, epoch));
    expect(seen.size).toBe(nodes.length * 25);
    // Stable: a fresh deriver (no cache) over the same key gives the same value.
    expect(await new PseudonymDeriver(key).node('meter-1', 3)).toBe(await new PseudonymDeriver(key).node('meter-1', 3));
    const other = await secureEnvironment();
    expect(await new PseudonymDeriver(other.key).node('meter-1', 3)).not.toBe(await new PseudonymDeriver(key).node('meter-1', 3));
    // No (kind, id, epoch) triple shares a PRF input with another, even when ids run into each other.
    expect(toHex(prfInput('node', 'a1', 0))).not.toBe(toHex(prfInput('node', 'a', 1)));
    expect(toHex(prfInput('cse', '/x', 0))).not.toBe(toHex(prfInput('node', '/x', 0)));
  });
});

describe('pseudonym rotation', () => {
  it("gives a registered node its first pseudonym, records value and epoch in the directory, and never the key", async () => {
    const { c, deriver, se, handle } = await open();
    await c.engine.execute(cmd.registerNode('meter-1'));
    await c.settle();
    const first = await deriver.node('meter-1', 0);
    expect(nodePseudonym(c.readModels, 'meter-1')).toMatchObject({ nodeId: 'meter-1', profileClass: 'smart-meter', live: true, epoch: 0, pseudonym: first });
    const [event] = await c.store.readStream(`pseudonym-${first}`);
    expect(event?.data).toEqual({ pseudonym: first, nodeId: 'meter-1', epoch: 0, trigger: 'initial' });

    const keyBytes = se.exportForTest(handle as KeyHandle);
    const encodings = [toHex(keyBytes), toBase64url(keyBytes), Buffer.from(keyBytes).toString('base64')];
    const everything: string[] = [];
    for await (const r of c.store.readAll()) everything.push(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
    for (const table of ['pseudonym_nodes', 'pseudonym_directory', 'audit_events']) {
      everything.push(JSON.stringify(c.readModels.prepare(`SELECT * FROM ${table}`).all(), (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
    }
    for (const text of everything) for (const encoding of encodings) expect(text).not.toContain(encoding);
    await c.close();
  });

  it('rotates by class policy: on each new association, every interval, and on demand', async () => {
    const { c, clock, deriver } = await open();
    const run = (x: unknown) => c.engine.execute(x);
    await run(cmd.createSubscription());
    await run(cmd.registerNode('meter-1'));
    await run(registerGateway('gw-1'));
    await run(cmd.enrolNode('meter-1'));
    await run(cmd.issueCredential('cred-1', 'meter-1'));
    await run(cmd.provisionCredential('cred-1'));
    await c.settle();
    await run(cmd.configureAssociation('sa-1', 'cred-1', 'meter-1'));
    await c.settle();
    expect(nodePseudonym(c.readModels, 'meter-1')?.epoch).toBe(1);

    clock.advance(DAY - HOUR);
    await c.tick();
    expect(nodePseudonym(c.readModels, 'gw-1')?.epoch).toBe(0);
    clock.advance(HOUR);
    await c.tick();
    await c.tick();
    expect(nodePseudonym(c.readModels, 'gw-1')).toMatchObject({ epoch: 1, pseudonym: await deriver.node('gw-1', 1) });

    const demand = await c.pseudonyms!.rotateNow('meter-1', operator);
    expect(demand).toMatchObject({ outcome: 'rotated', epoch: 2 });
    await c.settle();

    expect(await rotations(c)).toEqual([
      { nodeId: 'meter-1', epoch: 0, trigger: 'initial', actor: 'system:pseudonym-rotation' },
      { nodeId: 'gw-1', epoch: 0, trigger: 'initial', actor: 'system:pseudonym-rotation' },
      { nodeId: 'meter-1', epoch: 1, trigger: 'association', actor: 'system:pseudonym-rotation' },
      { nodeId: 'gw-1', epoch: 1, trigger: 'interval', actor: 'system:pseudonym-rotation' },
      { nodeId: 'meter-1', epoch: 2, trigger: 'demand', actor: operator.id },
    ]);
    expect(pseudonymHistory(c.readModels, 'meter-1').map((e) => [e.epoch, e.pseudonym])).toEqual([
      [0, await deriver.node('meter-1', 0)],
      [1, await deriver.node('meter-1', 1)],
      [2, await deriver.node('meter-1', 2)],
    ]);
    await c.close();
  });

  it('applies each class its own interval and the default interval to classes the policy does not list', async () => {
    const { c, clock } = await open({ default: { everyMs: 2 * DAY }, classes: { gateway: { everyMs: DAY }, 'smart-meter': { onAssociation: true } } });
    await c.engine.execute(cmd.registerNode('meter-1'));
    await c.engine.execute(registerGateway('gw-1'));
    await c.engine.execute(command('registerNode', { nodeId: 'sensor-1', profile: { class: 'sensor', manufacturer: 'Acme', model: 'T-1', capabilities: [] } }, { actor: operator }));
    await c.settle();
    for (let day = 1; day <= 4; day++) {
      clock.advance(DAY);
      await c.tick();
    }
    const epochs = Object.fromEntries(['meter-1', 'gw-1', 'sensor-1'].map((id) => [id, nodePseudonym(c.readModels, id)?.epoch]));
    expect(epochs).toEqual({ 'meter-1': 0, 'gw-1': 4, 'sensor-1': 2 });
    await c.close();
  });

  it('does not rotate a class whose policy has no interval, nor a node that is revoked', async () => {
    const { c, clock } = await open({ default: {}, classes: { gateway: { everyMs: HOUR } } });
    await c.engine.execute(cmd.registerNode('meter-1'));
    await c.engine.execute(registerGateway('gw-1'));
    await c.settle();
    await c.engine.execute(command('revokeNode', { nodeId: 'gw-1', reason: 'cessationOfOperation' }, { actor: operator }));
    await c.settle();
    clock.advance(10 * DAY);
    await c.tick();
    expect((await rotations(c)).map((r) => [r.nodeId, r.epoch])).toEqual([['meter-1', 0], ['gw-1', 0]]);

    const refused = await c.pseudonyms!.rotateNow('gw-1', operator);
    expect(refused).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('nodeIsLive') });
    expect(await rotations(c)).toHaveLength(2);
    await c.close();
  });

  it('answers an on-demand rotation sent again with its first outcome, after the directory moved on; another actor with the id is refused', async () => {
    const { c, deriver } = await open();
    await c.engine.execute(registerGateway('gw-9'));
    await c.settle();
    const commandId = '7d3c2b1a-0f9e-4d8c-b7a6-95847362e1f0';
    const first = await c.pseudonyms!.rotateNow('gw-9', operator, commandId);
    expect(first).toMatchObject({ outcome: 'rotated', epoch: 1, pseudonym: await deriver.node('gw-9', 1) });
    await c.settle();
    const before = await footprint(c.store);
    // Found in review: the directory now says epoch 1, so the retry aimed at epoch 2 and was refused as a reused id.
    expect(await c.pseudonyms!.rotateNow('gw-9', operator, commandId)).toEqual({ ...first, outcome: 'duplicate' });
    const stranger = await c.pseudonyms!.rotateNow('gw-9', { id: 'someone-else', role: 'operator' }, commandId).catch((e: unknown) => e);
    expect(isCredenceError(stranger, 'validation') && stranger.message).toMatch(/already used by another actor/);
    expect(await footprint(c.store)).toEqual(before);
    // A pseudonym not derived by the key is refused before anything is read (found in review: recorded as given).
    const handPicked = await c.engine.execute(command('rotatePseudonym', { nodeId: 'gw-9', pseudonym: `p-${'b'.repeat(26)}`, epoch: 2, trigger: 'demand' }, { actor: operator })).catch((e: unknown) => e);
    expect(isCredenceError(handPicked, 'validation') && handPicked.problem.code === 'validation' && handPicked.problem.issues).toEqual([
      expect.objectContaining({ path: 'data.pseudonym', rule: 'derived' }),
    ]);
    expect(await footprint(c.store)).toEqual(before);
    await c.close();
  });

  it('refuses a resolution without the auditor role and writes nothing', async () => {
    const { c, deriver } = await open();
    await c.engine.execute(cmd.registerNode('meter-1'));
    await c.settle();
    const pseudonym = await deriver.node('meter-1', 0);
    const before = await footprint(c.store);
    for (const actor of [operator, { id: 'integrator:acme', role: 'integrator' as const }, { id: 'system:x', role: 'system' as const }]) {
      const error = await resolvePseudonym(c.engine, { pseudonym, reason: 'curiosity', actor }).then(() => undefined, (e: unknown) => e);
      expect(isCredenceError(error, 'unauthorised'), String(error)).toBe(true);
      expect((error as Error).message).not.toContain('meter-1');
    }
    expect(await footprint(c.store)).toEqual(before);
    await c.close();
  });

  it('resolves for an auditor, records who resolved what and why, and keeps old pseudonyms resolvable', async () => {
    const { c, deriver } = await open();
    await c.engine.execute(cmd.registerNode('meter-1'));
    await c.settle();
    await c.pseudonyms!.rotateNow('meter-1', operator);
    await c.settle();
    const old = await deriver.node('meter-1', 0);

    const resolution = await resolvePseudonym(c.engine, { pseudonym: old, reason: 'incident 2026-17', actor: auditor });
    expect(resolution).toMatchObject({ pseudonym: old, nodeId: 'meter-1', epoch: 0 });
    await c.settle();
    expect(resolutions(c.readModels)).toEqual([
      { position: resolution.position, pseudonym: old, nodeId: 'meter-1', actor: auditor.id, reason: 'incident 2026-17', occurredAt: T0 },
    ]);
    expect(timeline(c.readModels, `pseudonym-${old}`).map((e) => [e.type, e.actor.id, e.reason])).toEqual([
      ['PseudonymRotated', 'system:pseudonym-rotation', undefined],
      ['PseudonymResolved', auditor.id, 'incident 2026-17'],
    ]);

    const unknown = await resolvePseudonym(c.engine, { pseudonym: `p-${'a'.repeat(26)}`, reason: 'probe', actor: auditor }).then(() => undefined, (e: unknown) => e);
    expect(isCredenceError(unknown, 'not_found')).toBe(true);
    const malformed = await resolvePseudonym(c.engine, { pseudonym: 'meter-1', reason: 'probe', actor: auditor }).then(() => undefined, (e: unknown) => e);
    expect(isCredenceError(malformed, 'validation')).toBe(true);
    await c.close();
  });
});
