import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { command } from '../../domain/commands/index.ts';
import type { Actor } from '../../domain/metadata.ts';
import type { EntityKind } from '../../domain/streams.ts';
import { DAY, FakeClock } from '../../adapters/driven/clock/index.ts';
import { Device, type SecurityProcedures } from '../../adapters/protocols/procedures/index.ts';
import { openCredence, type Credence } from '../../adapters/runtime/index.ts';
import { EmbeddedSecureEnvironment, secureEnvironmentConfigForDataDir } from '../../adapters/driven/secure-environment/index.ts';
import { preparePrivateDatabaseFile, preparePrivateDir, withPrivateUmask } from '../../adapters/driven/files/index.ts';
import { stateOf } from '../../machines/index.ts';
import { parseCli, type Io } from '../io.ts';

const OPERATOR: Actor = { id: 'operator:demo', role: 'operator' };
const EPOCH = '2026-01-01T00:00:00.000Z';
const day = (n: number): string => new Date(Date.parse(EPOCH) + n * DAY).toISOString();
const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

const FLEET = [
  { nodeId: 'gateway-1', bootstrap: 'p256', service: 'p256', class: 'gateway', model: 'GW-200' },
  { nodeId: 'meter-1', bootstrap: 'ed25519', service: 'ed25519', class: 'smart-meter', model: 'SM-10' },
  { nodeId: 'meter-2', bootstrap: 'ed25519', service: 'ed25519', class: 'smart-meter', model: 'SM-10' },
  { nodeId: 'meter-3', bootstrap: 'ed25519', service: 'p256', class: 'smart-meter', model: 'SM-10' },
  { nodeId: 'meter-4', bootstrap: 'psk256', service: 'psk256', class: 'smart-meter', model: 'SM-2' },
] as const;

/** A Secure Environment in `dir`, every file it creates private (0600), like every other data file (issue 11 item 13). */
const openSecureEnvironment = (dir: string, now: () => Date): EmbeddedSecureEnvironment => {
  const config = secureEnvironmentConfigForDataDir(dir);
  preparePrivateDir(dir);
  preparePrivateDatabaseFile(config.database);
  return withPrivateUmask(() => EmbeddedSecureEnvironment.open(config, { now, random }));
};

const Args = z.object({ data: z.string().min(1).default('./data'), positionals: z.array(z.string()).max(0) });

const showStates = async (c: Credence, io: Io) => {
  io.out('entity                                state');
  const show = async (kind: EntityKind, id: string) => {
    const e = await c.engine.entity(kind, id);
    if (e.events.length > 0) io.out(`${e.streamId.padEnd(37)} ${stateOf(e.snapshot)}`);
  };
  await show('subscription', 'city-utilities');
  for (const { nodeId } of FLEET) {
    await show('node', nodeId);
    for (const id of [`${nodeId}-bootstrap`, `${nodeId}-service`, `${nodeId}-service-r1`]) await show('credential', id);
    for (const id of [`${nodeId}-sa`, `${nodeId}-sa-r1`]) await show('association', id);
  }
};

/** The fleet's life, every procedure run for real between the devices and the infrastructure. */
const scenario = async (c: Credence, procedures: SecurityProcedures, clock: FakeClock, dir: string, io: Io) => {
  const run = (type: Parameters<typeof command>[0], data: Record<string, unknown>) => c.engine.execute(command(type, data, { actor: OPERATOR }));
  const devices = new Map<string, Device>();
  // Each device's whole Secure Environment, to close at the end: the Device itself holds only its owner's view.
  const deviceSes: EmbeddedSecureEnvironment[] = [];
  preparePrivateDir(join(dir, 'devices'));
  await run('createSubscription', { subscriptionId: 'city-utilities', subscriber: 'City Utilities', notBefore: EPOCH, notAfter: day(365) });
  io.out('day 0: factory Initialization: canonical Node-IDs, generic profiles, bootstrap keys generated in each device');
  for (const n of FLEET) {
    const se = openSecureEnvironment(join(dir, 'devices', n.nodeId), () => clock.now());
    deviceSes.push(se);
    const device = new Device({ nodeId: n.nodeId, se, now: () => clock.now(), random });
    devices.set(n.nodeId, device);
    await procedures.preProvision({
      device,
      profile: { class: n.class, manufacturer: 'Acme Metering', model: n.model, capabilities: n.class === 'gateway' ? ['mn-cse'] : ['metering'] },
      bootstrapCredentialId: `${n.nodeId}-bootstrap`,
      kind: n.bootstrap,
      // meter-4's factory PSK is short-lived, to show expiry on schedule.
      validity: { notBefore: EPOCH, notAfter: n.nodeId === 'meter-4' ? day(60) : day(5 * 365) },
    });
  }
  clock.set(day(7));
  io.out('day 7: enrolment under the subscription, remote provisioning through the Enrolment Function, association handshakes with /in-cse');
  for (const n of FLEET) {
    const device = devices.get(n.nodeId)!;
    await run('enrolNode', { nodeId: n.nodeId, subscriptionId: 'city-utilities', cseId: `/${n.nodeId}-cse` });
    await procedures.provisionRemotely({ device, credentialId: `${n.nodeId}-service`, kind: n.service });
    await procedures.associate({ device, associationId: `${n.nodeId}-sa`, credentialId: `${n.nodeId}-service`, lifetimeSeconds: (n.nodeId === 'meter-2' ? 30 : 90) * 86_400 });
  }
  await c.settle();
  clock.set(day(20));
  io.out('day 20: meter-3 reports tampering: the node is revoked (keyCompromise); the cascade revokes its credentials and association');
  await run('revokeNode', { nodeId: 'meter-3', reason: 'keyCompromise' });
  await c.settle();
  clock.set(day(37));
  await c.tick();
  io.out("day 37: meter-2's association reaches the end of its lifetime and expires");
  clock.set(day(45));
  io.out("day 45: meter-1's service credential is rotated: successor provisioned, association re-established, 7-day overlap");
  const { overlapEndsAt } = await procedures.rotate({
    device: devices.get('meter-1')!, credentialId: 'meter-1-service', successorId: 'meter-1-service-r1', kind: 'ed25519', overlapSeconds: 7 * 86_400,
    associations: [{ associationId: 'meter-1-sa', successorAssociationId: 'meter-1-sa-r1', lifetimeSeconds: 90 * 86_400 }],
  });
  await c.settle();
  clock.set(overlapEndsAt);
  await c.tick();
  io.out('day 52: the overlap ends: the predecessor is revoked as superseded and its old association with it');
  clock.set(day(60));
  await c.tick();
  io.out("day 60: meter-4's factory bootstrap PSK expires");
  for (const se of deviceSes) se.close();
};

/**
 * `npm start`: on an empty store, runs the demo fleet on a simulated clock from 2026-01-01 (a gateway and four
 * smart meters through factory registration, remote provisioning, association, a compromise and its cascade,
 * expiry and rotation); on a store that already holds events, shows where the fleet stands.
 */
export const demo = async (argv: string[], io: Io): Promise<number> => {
  const args = parseCli(argv, { data: { type: 'string' } }, Args, io);
  if (args === undefined) return 2;
  const se = openSecureEnvironment(args.data, () => new Date());
  const clock = new FakeClock(EPOCH);
  const c = openCredence({ location: { dir: args.data }, clock, security: { se, random, actor: OPERATOR } });
  try {
    if ((await c.store.headPosition()) !== undefined) {
      io.out(`The store in ${args.data} already holds events; the fleet as it stands (delete the folder to run the demo again):`);
    } else {
      io.out(`Credence demo fleet on the embedded store in ${args.data} (simulated clock from ${EPOCH})`);
      const { procedures } = await c.security();
      await scenario(c, procedures, clock, args.data, io);
    }
    io.out('');
    await showStates(c, io);
    io.out('');
    io.out(`${(await c.store.headPosition()) ?? 0n} events stored. Next:`);
    io.out(`  npx credence replay --data ${args.data}                  every stored transition through its machine`);
    io.out(`  npx credence history node-meter-3 --data ${args.data}    one entity's timeline`);
    io.out(`  npx credence verify --data ${args.data}                  the events against the signed transparency log`);
    return 0;
  } finally {
    await c.close();
    se.close();
  }
};
