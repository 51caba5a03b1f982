import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { operatorClient } from '../../../adapters/client/operator.ts';
import { preparePrivateDir } from '../../../adapters/driven/files/index.ts';
import type { ServerTarget } from '../options.ts';
import { openDevice, type SimulatedDevice } from '../device/simulator.ts';
import { associate, provision } from '../device/steps.ts';
import { factory } from '../device/factory.ts';
import {
  ASSOCIATION_LIFETIME_SECONDS, BOOTSTRAP_VALIDITY_SECONDS, COMPROMISED, FLEET, ids, ROTATING, ROTATION_OVERLAP_SECONDS, SUBSCRIPTION,
} from './fleet.ts';
import { waitForEvents, type SeenEvent } from './wait.ts';

export interface ScenarioContext {
  /** The running server and a token of the demo's operator. */
  readonly operator: ServerTarget;
  /** Where each device keeps its own Secure Environment: `<devicesDir>/<node id>`. */
  readonly devicesDir: string;
  readonly say: (line: string) => void;
  /** Aborted when the server shuts down under the demo (Ctrl-C). */
  readonly signal: AbortSignal;
}

const DAY_MS = 86_400_000;
/** How long the live runtime may take to react before the demo calls it a failure (a tick is 1 s by default). */
const REACTION_TIMEOUT_MS = 15_000;

const lastPosition = (outcome: { events: readonly { position: string }[] }): string => outcome.events.at(-1)?.position ?? '0';
const shown = (e: SeenEvent): string => `    ${e.streamId.padEnd(30)} ${e.type.padEnd(18)} by ${e.actor}${e.reason !== undefined ? ` (${e.reason})` : ''}`;

/**
 * The demo fleet's life, every step through the running server on the wall clock, as a real deployment would
 * see it: the operator over POST /v1/commands, each device over the device routes (no bearer token: it
 * authenticates inside the protocols) from its own Secure Environment, and the live runtime (the cascade, the
 * expiry scheduler) doing the rest by itself, watched on GET /v1/events.
 */
export const runScenario = async (ctx: ScenarioContext): Promise<void> => {
  const { operator, say, signal } = ctx;
  const api = operatorClient(operator.url, operator.token, { signal });
  // Each command under a command id of its own, so that the client sends it again when the service sheds load (a
  // loaded machine's 503 overloaded, issue 1071): the service stores it once at most.
  const run = async (type: string, data: Record<string, unknown>) => (await api.command({ type, data, commandId: randomUUID() })).outcome;
  const devices = new Map<string, SimulatedDevice>();
  const device = (nodeId: string): SimulatedDevice => devices.get(nodeId)!;
  preparePrivateDir(ctx.devicesDir);
  try {
    const now = Date.now();
    await run('createSubscription', { ...SUBSCRIPTION, notBefore: new Date(now).toISOString(), notAfter: new Date(now + 365 * DAY_MS).toISOString() });
    say(`subscription ${SUBSCRIPTION.subscriptionId} created (POST /v1/commands)`);

    say('factory: each bootstrap key generated in the device\'s own Secure Environment; node and bootstrap credential recorded over the API');
    for (const n of FLEET) {
      const dir = join(ctx.devicesDir, n.nodeId);
      await factory(operator, { dir, nodeId: n.nodeId, kind: n.bootstrap, profile: n.profile, bootstrapCredentialId: ids(n.nodeId).bootstrap, validForSeconds: BOOTSTRAP_VALIDITY_SECONDS });
      devices.set(n.nodeId, openDevice(dir));
      say(`  ${n.nodeId.padEnd(10)} ${n.bootstrap.padEnd(8)} bootstrap in ${dir}`);
    }

    say('enrolment, remote provisioning through the Enrolment Function, association handshake with the Registrar CSE (device routes, no token)');
    for (const n of FLEET) {
      const id = ids(n.nodeId);
      await run('enrolNode', { nodeId: n.nodeId, subscriptionId: SUBSCRIPTION.subscriptionId, cseId: `/${n.nodeId}-cse` });
      await provision(operator.url, device(n.nodeId), { credentialId: id.service, kind: n.service });
      const outcome = await associate(operator.url, device(n.nodeId), {
        associationId: id.association, credentialId: id.service, lifetimeSeconds: ASSOCIATION_LIFETIME_SECONDS, configureWith: operator,
      });
      say(`  ${n.nodeId.padEnd(10)} ${id.service} (${n.service}) provisioned, ${id.association} established with ${outcome.registrarId}`);
    }

    say(`${COMPROMISED} reports tampering: revokeNode (keyCompromise); the live cascade follows:`);
    const compromised = ids(COMPROMISED);
    const revoked = await run('revokeNode', { nodeId: COMPROMISED, reason: 'keyCompromise' });
    await waitForEvents(operator, {
      after: lastPosition(revoked),
      expected: [
        { streamId: `credential-${compromised.bootstrap}`, type: 'CredentialRevoked' },
        { streamId: `credential-${compromised.service}`, type: 'CredentialRevoked' },
        { streamId: `association-${compromised.association}`, type: 'AssociationRevoked' },
      ],
      timeoutMs: REACTION_TIMEOUT_MS,
      signal,
    }, (e) => say(shown(e)));

    const rotating = ids(ROTATING);
    const meter = FLEET.find((n) => n.nodeId === ROTATING)!;
    await provision(operator.url, device(ROTATING), { credentialId: rotating.successor, kind: meter.service, predecessorId: rotating.service });
    const overlapEndsAt = new Date(Date.now() + ROTATION_OVERLAP_SECONDS * 1000).toISOString();
    const rotation = await run('startCredentialRotation', { credentialId: rotating.service, successorId: rotating.successor, overlapEndsAt });
    await associate(operator.url, device(ROTATING), {
      associationId: rotating.successorAssociation, credentialId: rotating.successor, lifetimeSeconds: ASSOCIATION_LIFETIME_SECONDS, configureWith: operator,
    });
    say(`${ROTATING} rotates: ${rotating.successor} provisioned and ${rotating.successorAssociation} established; both credentials live until ${overlapEndsAt}`);
    say(`  waiting ${ROTATION_OVERLAP_SECONDS} s for the expiry scheduler to end the overlap on the wall clock:`);
    await waitForEvents(operator, {
      after: lastPosition(rotation),
      expected: [
        { streamId: `credential-${rotating.service}`, type: 'CredentialRevoked' },
        { streamId: `association-${rotating.association}`, type: 'AssociationRevoked' },
      ],
      timeoutMs: ROTATION_OVERLAP_SECONDS * 1000 + REACTION_TIMEOUT_MS,
      signal,
    }, (e) => say(shown(e)));
  } finally {
    for (const d of devices.values()) d.close();
  }
};
