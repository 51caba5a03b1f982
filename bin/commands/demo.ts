import { z } from 'zod';
import { command } from '../../domain/commands/index.ts';
import type { Actor } from '../../domain/metadata.ts';
import { DAY, FakeClock } from '../../adapters/clock/index.ts';
import { derivedCommandId } from '../../adapters/engine/index.ts';
import { openCredence, type Credence } from '../../adapters/runtime/index.ts';
import { stateOf } from '../../machines/index.ts';
import type { EntityKind } from '../../domain/streams.ts';
import { parseCli, type Io } from '../io.ts';

const OPERATOR: Actor = { id: 'operator:demo', role: 'operator' };
const EPOCH = '2026-01-01T00:00:00.000Z';
const day = (n: number): string => new Date(Date.parse(EPOCH) + n * DAY).toISOString();
const fp = (label: string): string => `sha256:${Buffer.from(label.padEnd(32, '.')).toString('hex').slice(0, 64)}`;

const METERS = ['meter-1', 'meter-2', 'meter-3', 'meter-4'];
const GATEWAY = 'gateway-1';

/** Each step's command id is derived from its name, so running the demo again appends nothing new. */
const run = async (c: Credence, name: string, type: Parameters<typeof command>[0], data: Record<string, unknown>) =>
  c.engine.execute({ ...command(type, data, { actor: OPERATOR }), metadata: { actor: OPERATOR, commandId: derivedCommandId('demo', name) } });

const Args = z.object({ data: z.string().min(1).default('./data'), positionals: z.array(z.string()).max(0) });

/**
 * The scripted lifecycle on the embedded store, on a simulated clock starting 2026-01-01: factory registration
 * (seed 004 Initialization), enrolment under an M2M Service Subscription, service credentials provisioned,
 * associations with the Registrar CSE, a compromised meter's credential revoked with its association, and a
 * credential that runs out its validity.
 */
export const demo = async (argv: string[], io: Io): Promise<number> => {
  const args = parseCli(argv, { data: { type: 'string' } }, Args, io);
  if (args === undefined) return 2;
  const clock = new FakeClock(EPOCH);
  const c = openCredence({ location: { dir: args.data }, clock });
  try {
    io.out(`Credence demo on the embedded store in ${args.data} (simulated clock from ${EPOCH})`);
    await run(c, 'subscription', 'createSubscription', { subscriptionId: 'city-utilities', subscriber: 'City Utilities', notBefore: EPOCH, notAfter: day(365) });
    for (const nodeId of [GATEWAY, ...METERS]) {
      const isGateway = nodeId === GATEWAY;
      const profile = {
        class: isGateway ? 'gateway' : 'smart-meter',
        manufacturer: 'Acme Metering',
        model: isGateway ? 'GW-200' : 'SM-10',
        capabilities: isGateway ? ['mn-cse', 'routing'] : ['metering', 'tamper-detect'],
      };
      // Initialization at the factory: canonical Node-ID, generic profile, bootstrap credential linked to both.
      await run(c, `${nodeId}/register`, 'registerNode', { nodeId, profile, bootstrapCredentialId: `${nodeId}-bootstrap` });
      await run(c, `${nodeId}/bootstrap`, 'issueCredential', {
        credentialId: `${nodeId}-bootstrap`, kind: isGateway ? 'p256' : 'ed25519', purpose: 'bootstrap',
        owner: { kind: 'node', id: nodeId }, fingerprint: fp(`${nodeId}-bootstrap`), notBefore: EPOCH, notAfter: day(5 * 365),
      });
      await run(c, `${nodeId}/bootstrap-provisioned`, 'provisionCredential', { credentialId: `${nodeId}-bootstrap`, method: 'pre-provisioning' });
    }
    clock.set(day(7));
    for (const nodeId of [GATEWAY, ...METERS]) {
      const service = `${nodeId}-service`;
      await run(c, `${nodeId}/enrol`, 'enrolNode', { nodeId, subscriptionId: 'city-utilities', cseId: `/${nodeId}-cse` });
      // meter-4's service credential is short-lived, to show expiry on schedule.
      const notAfter = nodeId === 'meter-4' ? day(60) : day(365);
      await run(c, `${nodeId}/issue`, 'issueCredential', {
        credentialId: service, kind: nodeId === GATEWAY ? 'p256' : 'ed25519', purpose: 'service',
        owner: { kind: 'node', id: nodeId }, fingerprint: fp(service), notBefore: day(7), notAfter,
      });
      await run(c, `${nodeId}/provision`, 'provisionCredential', { credentialId: service, method: 'remote-provisioning', bootstrapCredentialId: `${nodeId}-bootstrap` });
      await run(c, `${nodeId}/configure`, 'configureAssociation', {
        associationId: `${nodeId}-sa`, nodeId, credentialId: service,
        registree: { kind: 'cse', id: `/${nodeId}-cse` }, registrarCseId: '/in-cse',
      });
      await run(c, `${nodeId}/establish`, 'establishAssociation', { associationId: `${nodeId}-sa`, expiresAt: nodeId === 'meter-4' ? day(37) : day(97) });
    }
    await c.settle();
    clock.set(day(20));
    io.out('day 20: meter-3 reports tampering; its service credential is revoked (keyCompromise)');
    await run(c, 'meter-3/compromise', 'revokeCredential', { credentialId: 'meter-3-service', reason: 'keyCompromise' });
    await c.settle();
    for (const d of [37, 60, 61]) {
      clock.set(day(d));
      await c.tick();
    }
    io.out('day 61: the schedule has expired meter-4\'s association (day 37) and credential (day 60)');
    io.out('');
    io.out('entity                               state');
    const show = async (kind: EntityKind, id: string) => {
      const e = await c.engine.entity(kind, id);
      io.out(`${e.streamId.padEnd(36)} ${stateOf(e.snapshot)}`);
    };
    await show('subscription', 'city-utilities');
    for (const nodeId of [GATEWAY, ...METERS]) {
      await show('node', nodeId);
      await show('credential', `${nodeId}-bootstrap`);
      await show('credential', `${nodeId}-service`);
      await show('association', `${nodeId}-sa`);
    }
    io.out('');
    io.out(`${(await c.store.headPosition()) ?? 0n} events stored. Try: npx credence replay --data ${args.data}`);
    return 0;
  } finally {
    await c.close();
  }
};
