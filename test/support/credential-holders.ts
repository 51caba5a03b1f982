import type { Engine } from '../../adapters/engine/index.ts';
import { command } from '../../domain/commands/index.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { at, cmd, operator } from './fleet.ts';

/** App-ID `appId` registered and enrolled with its own credential `<appId>-cred`. */
export const enrolledApplication = async (engine: Pick<Engine, 'execute'>, appId: string): Promise<void> => {
  await engine.execute(command('registerApplication', { appId, name: appId, provider: 'City Utilities' }, { actor: operator }));
  await engine.execute(cmd.issueCredential(`${appId}-cred`, appId, at(300), { purpose: 'application', owner: { kind: 'app', id: appId } }));
  await engine.execute(cmd.provisionCredential(`${appId}-cred`));
  await engine.execute(command('enrolApplication', { appId, credentialId: `${appId}-cred` }, { actor: operator }));
};

/** An entity's id, state and revocation reason, as the assertions compare them. */
export const entityState = async (engine: Pick<Engine, 'entity'>, kind: 'credential' | 'association', id: string) => {
  const { snapshot } = await engine.entity(kind, id);
  return [id, String(snapshot.value), snapshot.context['revocationReason']];
};

/**
 * The store, with `between` run once just before the first append to `streamId`: after the engine read the facts and
 * decided, before its append commits. The store holds the append to the facts it read, so a fact changed by
 * `between` conflicts, and the engine decides again.
 */
export const racing = (inner: EventStore, streamId: string, between: () => Promise<void>): EventStore => {
  let ran = false;
  return Object.assign(Object.create(inner) as EventStore, {
    appendToStream: async (...args: Parameters<EventStore['appendToStream']>) => {
      if (!ran && args[0] === streamId) {
        ran = true;
        await between();
      }
      return inner.appendToStream(...args);
    },
  });
};

/** An association configuring App-ID `appId`'s instance under AE-ID Cx on `nodeId`, on `credentialId` (the AE tests' one instance). */
export const configureAeInstance = (associationId: string, credentialId: string, nodeId: string, appId = 'RA') =>
  command('configureAssociation', { associationId, nodeId, credentialId, registree: { kind: 'ae', id: 'Cx', appId }, registrarCseId: '/in-cse' }, { actor: operator });
