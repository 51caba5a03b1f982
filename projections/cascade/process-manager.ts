import type Database from 'better-sqlite3';
import { isCommandIdReused, isCredenceError } from '../../domain/errors.ts';
import { SYSTEM_ACTOR_IDS, type Actor } from '../../domain/metadata.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { streamIdOf } from '../../domain/streams.ts';
import type { AssociationContext } from '../../machines/index.ts';
import type { RevocationReason } from '../../domain/events/index.ts';
import type { CommandSink } from '../../domain/ports/index.ts';
import { derivedCommandId } from '../../domain/event-ids.ts';
import type { Projection } from '../runtime/index.ts';
import { addDependent, addEnding, addInstance, dependentsOf, resetDependents, setupDependents } from './dependents.ts';
import { addDeadLetter, resetDeadLetters, setupDeadLetters } from './dead-letters.ts';
import { BrokenHistoryError } from '../../machines/index.ts';
import { CASCADE_EVENT_TYPES, reactionsTo } from './reactions.ts';

/** The events that end an entity, kept with their cause so a dependent's revocation can be traced to its origin. */
const ENDINGS: ReadonlySet<string> = new Set([
  'CredentialRevoked',
  'NodeRevoked',
  'NodeEnrolmentExpired',
  'ApplicationRevoked',
  'SubscriptionExpired',
  'SubscriptionTerminated',
  'AssociationRevoked',
  'AssociationExpired',
]);

export const PROCESS_MANAGER_ACTOR: Actor = { id: SYSTEM_ACTOR_IDS[0], role: 'system' };

export interface CascadeLog {
  (entry: { outcome: 'issued' | 'duplicate' | 'skipped' | 'dead-letter'; command: string; target: string; reason?: string }): void;
}

/**
 * The process manager: a projection whose reactions are commands. Each command's id is derived from the
 * causing event's id, so running it twice (or resuming after a crash before the checkpoint) changes nothing.
 * Commands the target's machine refuses (already revoked, say) are skipped: the goal state already holds.
 */
export const cascadeProcessManager = (engine: CommandSink, log: CascadeLog = () => {}): Projection => {
  let db: Database.Database | undefined;
  const reactionsToEvent = reactionsWith(engine, () => {
    if (db === undefined) throw new Error('cascade process manager used before setup');
    return db;
  });
  return {
    name: 'cascade',
    eventTypes: CASCADE_EVENT_TYPES,
    setup(d) {
      db = d;
      setupDependents(d);
      setupDeadLetters(d);
    },
    reset(d) {
      resetDependents(d);
      resetDeadLetters(d);
    },
    apply(d, e) {
      const stream = e.record.streamId;
      switch (e.event.type) {
        case 'CredentialIssued': {
          const { owner } = e.event.data;
          if (owner.kind === 'node') addDependent(d, streamIdOf('node', owner.id), 'credential-of-node', stream);
          if (owner.kind === 'app') addDependent(d, streamIdOf('application', owner.id), 'credential-of-application', stream);
          return;
        }
        case 'NodeEnrolled':
          return addDependent(d, streamIdOf('subscription', e.event.data.subscriptionId), 'node-of-subscription', stream);
        case 'AssociationConfigured': {
          const { credentialId, nodeId, registree } = e.event.data;
          addDependent(d, streamIdOf('credential', credentialId), 'association-of-credential', stream);
          addDependent(d, streamIdOf('node', nodeId), 'association-of-node', stream);
          if (registree.kind === 'ae') {
            addDependent(d, streamIdOf('application', registree.appId), 'association-of-application', stream);
            addInstance(d, stream, registree.id);
          }
          return;
        }
        default:
          if (ENDINGS.has(e.event.type)) {
            const reason = (e.event.data as { reason?: unknown }).reason;
            addEnding(d, {
              streamId: stream,
              eventId: e.record.id,
              position: e.record.position,
              type: e.event.type,
              ...(typeof reason === 'string' ? { reason } : {}),
              causeEventId: e.metadata.causationId,
              byCascade: e.metadata.actor.id === PROCESS_MANAGER_ACTOR.id,
            });
          }
          return;
      }
    },
    async react(e: DecodedEvent) {
      if (db === undefined) throw new Error('cascade process manager used before setup');
      const d = db;
      const deadLetter = (command: string, target: string, error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        addDeadLetter(d, { position: e.record.position, eventType: e.event.type, command, target, reason });
        log({ outcome: 'dead-letter', command, target, reason });
      };
      let reactions;
      try {
        reactions = await reactionsToEvent(e);
      } catch (error) {
        if (!(error instanceof BrokenHistoryError)) throw error;
        return deadLetter('(lookup)', error.streamId, error);
      }
      for (const reaction of reactions) {
        const target = Object.values(reaction.data)[0] as string;
        try {
          const outcome = await engine.executeAsSystem({
            type: reaction.type,
            data: reaction.data,
            metadata: {
              commandId: derivedCommandId(`cascade:${reaction.type}:${target}`, e.record.id),
              actor: PROCESS_MANAGER_ACTOR,
              correlationId: e.metadata.correlationId,
              causationId: e.record.id,
            },
          });
          log({ outcome: outcome.deduplicated ? 'duplicate' : 'issued', command: reaction.type, target });
        } catch (error) {
          if (isCredenceError(error, 'illegal_transition') || isCredenceError(error, 'not_found')) {
            log({ outcome: 'skipped', command: reaction.type, target, reason: error.message });
          } else if (isCommandIdReused(error)) {
            // Done before under this id, with data read from parents that have moved on since (a rebuild).
            log({ outcome: 'duplicate', command: reaction.type, target });
          } else if (error instanceof BrokenHistoryError) {
            deadLetter(reaction.type, target, error);
          } else {
            // A conflict past the engine's retries or an I/O error: the checkpoint stays, the next run retries.
            throw error;
          }
        }
      }
    },
  };
};

/** The process manager's lookups: dependents from its table, other entities as the engine rebuilds them. */
const reactionsWith = (engine: CommandSink, db: () => Database.Database) => (e: DecodedEvent) =>
  reactionsTo(e, {
    dependents: (parent, relation) => dependentsOf(db(), parent, relation),
    association: async (id) => {
      const a = await engine.view('association', id);
      return { state: a.state, context: a.context as unknown as AssociationContext };
    },
    stateOf: async (kind, id) => {
      const entity = await engine.view(kind, id);
      const reason = (entity.context as { revocationReason?: RevocationReason }).revocationReason;
      return { state: entity.state, ...(reason !== undefined ? { reason } : {}) };
    },
  });
