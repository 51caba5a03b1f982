import type Database from 'better-sqlite3';
import { isCommandIdReused, isCredenceError } from '../../domain/errors.ts';
import { SYSTEM_ACTOR_IDS, type Actor } from '../../domain/metadata.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { streamIdOf, type EntityKind } from '../../domain/streams.ts';
import { COMMAND_CATALOG, type CommandType } from '../../domain/commands/index.ts';
import { EVENT_KIND } from '../../domain/events/index.ts';
import { sentBy, type CommandSender, type CommandSink } from '../../domain/ports/index.ts';
import { derivedCommandId } from '../../domain/event-ids.ts';
import { ensureSchemaVersion, ownOrTaken, recordedBy, type Projection } from '../runtime/index.ts';
import { addAssociation, addInstance, associationLinks, markEstablished } from './associations.ts';
import { DEPENDENTS_TABLES, addDependent, resetDependents, setupDependents } from './dependents.ts';
import { addEnding, addEnrolmentEnd, endingOf, type Ending } from './endings.ts';
import { bindApplication, cseIdOfNode, enrolNode, unbindApplication } from './enrolments.ts';
import { addCseCredential, addOwnedCredential, appAeKey, learnIdentifier, releaseIdentifiersOf } from './identifiers.ts';
import { reactionsWith } from './lookups.ts';
import { INSTANCE_CREDENTIALS_TABLES, addInstanceCredential, endInstanceCredential, instanceRunsOn, resetInstanceCredentials, setupInstanceCredentials } from './instance-credentials.ts';
import { addDeadLetter, resetDeadLetters, setupDeadLetters } from './dead-letters.ts';
import { BrokenHistoryError } from '../../machines/index.ts';
import { CASCADE_EVENT_TYPES, isUnresolved, type Reaction } from './reactions.ts';

/** The events that end an entity, kept with their cause so a dependent's revocation can be traced to its origin. */
const ENDINGS: ReadonlySet<string> = new Set([
  'CredentialRevoked',
  'CredentialExpired',
  'NodeRevoked',
  'NodeEnrolmentExpired',
  'ApplicationRevoked',
  'SubscriptionExpired',
  'SubscriptionTerminated',
  'AssociationRevoked',
  'AssociationExpired',
]);

const CASCADE_SCHEMA_VERSION = 12;
const CASCADE_TABLES = [...DEPENDENTS_TABLES, ...INSTANCE_CREDENTIALS_TABLES, 'cascade_dead_letters'];

export const PROCESS_MANAGER_ACTOR: Actor = { id: SYSTEM_ACTOR_IDS[0], role: 'system' };

export interface CascadeLog {
  (entry: {
    outcome: 'issued' | 'duplicate' | 'skipped' | 'dead-letter';
    command: string;
    target: string;
    reason?: string;
    /** On a dead letter: the event reacted to and the stream that could not be used, which is what an operator looks up. */
    eventType?: string;
    position?: bigint;
    stream?: string;
  }): void;
}

/** The command of a dead letter whose reactions could not be worked out (its target is the broken stream). */
const LOOKUP = '(lookup)';

/**
 * The process manager: a projection whose reactions are commands. Each command's id is derived from the
 * causing event's id, so running it twice (or resuming after a crash before the checkpoint) changes nothing.
 * Commands the target's machine refuses (already revoked, say) are skipped: the goal state already holds.
 */
export const cascadeProcessManager = (engine: CommandSink, log: CascadeLog = () => {}): Projection => {
  let db: Database.Database | undefined;
  let batch: BatchFacts = { commands: new Set(), endings: new Set() };
  const reactionsToEvent = reactionsWith(engine, () => {
    if (db === undefined) throw new Error('cascade process manager used before setup');
    return db;
  });
  return {
    name: 'cascade',
    // The bookkeeping events too: nothing follows from them, but a batch that holds them tells `prepare` which
    // reactions are recorded already.
    eventTypes: [...CASCADE_EVENT_TYPES, ...BOOKKEEPING_EVENT_TYPES],
    async prepare(events) {
      batch = {
        commands: new Set(events.flatMap((e) => (sentByCascade(e) ? [commandKey(e.record.streamId, e.metadata.commandId, e.metadata.commandType)] : []))),
        endings: new Set(events.flatMap((e) => (ENDINGS.has(e.event.type) ? [e.record.streamId] : []))),
      };
    },
    setup(d) {
      db = d;
      // Version 2: endings of expired credentials, AE-IDs and association rows, which the reactions now read
      // instead of the engine. Version 3: a node depends on the one subscription it is enrolled under now, and a
      // credential's expiry ends the associations configured on it and never established. Version 4 (5): a credential
      // issued to a CSE-ID or AE-ID follows the node (and App-ID) that identifier belongs to when it is issued. A read model written
      // before is rebuilt from the log: the reactions it re-runs are found recorded under their derived ids, so
      // nothing is applied twice (and an association left configured on an expired credential is ended now). Version
      // 6: the credential each App-ID is enrolled with, whose end ends the App-ID's authorisation (an App-ID whose
      // credential ended before is brought to that now). Version 7: a credential lists the App-IDs enrolled with it,
      // and each enrolment end names its credential (the dependents graph shows them). Version 8: an association keeps
      // its CSE Registree's CSE-ID and a node the CSE-ID it holds, so a re-enrolment under another CSE-ID revokes what
      // the node associated under the old one (RS-01); a rebuild revokes those that a re-enrolment before left alive.
      // Version 9 (review 44): a credential issued to a CSE-ID that names its node keeps that CSE-ID
      // (cascade_cse_credentials), so the node's re-enrolment under another revokes it as it does the associations; an
      // AE-ID's that names its App-ID follows the node of that App-ID's instance under the AE-ID (`app-ae`
      // identifiers), not of whoever used the AE-ID last. A rebuild revokes what a re-enrolment before left alive, and
      // links an AE-ID's credential anew. Version 10 (RS-01): an AE-ID's credential that names its App-ID follows every
      // node that App-ID's instance under the AE-ID runs on, not only the first (cascade_instance_credentials): revoking
      // the node the instance moved to left it live. A rebuild revokes what such a revocation before left live.
      // Version 11 (review 48, RS-01): the instance runs on a node once an association of it there is established, not
      // configured (cascade_instance_nodes): a node it never ran on took its credential, and the live association
      // elsewhere with it, when revoked; and a credential issued later follows every node the instance runs on, not the
      // node of the last association configured. A rebuild links them so, and revokes what such a revocation left live.
      // Version 12 (review 49, RS-01): such a credential issued while the instance ran on no node waited for the
      // identifier, and the first association configured (a typo, never established) took it: that node's revocation
      // revoked it and the live association elsewhere. It follows only the nodes the instance is established on now
      // (no `app-ae` identifier any more), its App-ID always. A rebuild links them so; what was revoked stays revoked.
      ensureSchemaVersion(d, 'cascade', CASCADE_SCHEMA_VERSION, CASCADE_TABLES);
      setupDependents(d);
      setupInstanceCredentials(d);
      setupDeadLetters(d);
    },
    reset(d) {
      resetDependents(d);
      resetInstanceCredentials(d);
      resetDeadLetters(d);
    },
    apply(d, e) {
      const stream = e.record.streamId;
      switch (e.event.type) {
        case 'CredentialIssued': {
          const { owner } = e.event.data;
          if (owner.kind === 'node') addDependent(d, streamIdOf('node', owner.id), 'credential-of-node', stream);
          if (owner.kind === 'app') addDependent(d, streamIdOf('application', owner.id), 'credential-of-application', stream);
          // A CSE-ID's credential that names its node is that node's, now and for good (review 41): never handed to
          // the identifier's next holder. An AE-ID's that names its App-ID is that App-ID's, and follows the nodes
          // that App-ID's instance under the AE-ID runs on (review 44: never another App-ID's that used the AE-ID).
          // One stored before they were named follows the identifier's holder alone, as it did.
          // Review 44: the CSE-ID is kept with it, so the node's re-enrolment under another revokes it.
          if (owner.kind === 'cse' && owner.nodeId !== undefined) {
            addDependent(d, streamIdOf('node', owner.nodeId), 'credential-of-node', stream);
            addCseCredential(d, stream, owner.id);
          } else if (owner.kind === 'ae' && owner.appId !== undefined) {
            // Review 49: the nodes the instance runs on (established there), and those it is established on later;
            // never the node of an association only configured (a typo took the credential with it).
            addInstanceCredential(d, appAeKey(owner.appId, owner.id), stream);
            addDependent(d, streamIdOf('application', owner.appId), 'credential-of-application', stream);
          } else if (owner.kind === 'cse' || owner.kind === 'ae') addOwnedCredential(d, owner.kind, owner.id, stream);
          return;
        }
        case 'NodeEnrolled':
          learnIdentifier(d, 'cse', e.event.data.cseId, { node: stream });
          return enrolNode(d, streamIdOf('subscription', e.event.data.subscriptionId), stream, e.event.data.cseId);
        case 'AssociationConfigured': {
          const { associationId, credentialId, nodeId, registree } = e.event.data;
          const nodeStream = streamIdOf('node', nodeId);
          // An owner that ended before this association was stored (a raced import) takes no identifier back, nor does
          // a node that moved to another CSE-ID meanwhile (the association is revoked on arrival; RS-01).
          const ended = (owner: string): boolean => endingOf(d, owner) !== undefined;
          const stillHeld = (cseId: string): boolean => (cseIdOfNode(d, nodeStream) ?? cseId) === cseId;
          addDependent(d, streamIdOf('credential', credentialId), 'association-of-credential', stream);
          addDependent(d, streamIdOf('node', nodeId), 'association-of-node', stream);
          if (registree.kind === 'ae') {
            addDependent(d, streamIdOf('application', registree.appId), 'association-of-application', stream);
            addInstance(d, stream, registree.id);
            const application = streamIdOf('application', registree.appId);
            // The AE-ID's old-shape credentials (no App-ID) follow it; the instance's follow its establishments only.
            learnIdentifier(d, 'ae', registree.id, { node: nodeStream, application }, !ended(nodeStream) && !ended(application));
          } else learnIdentifier(d, 'cse', registree.id, { node: nodeStream }, !ended(nodeStream) && stillHeld(registree.id));
          addAssociation(d, associationId, {
            credentialId,
            nodeId,
            ...(registree.kind === 'ae' ? { application: { appId: registree.appId, aeId: registree.id } } : { cseId: registree.id }),
          });
          return;
        }
        case 'AssociationEstablished': {
          markEstablished(d, e.event.data.associationId);
          // The instance runs on the association's node from now on (review 48: established, not configured), and its
          // live credentials follow that node (RS-01), unless the node or App-ID ended meanwhile.
          const links = associationLinks(d, e.event.data.associationId);
          if (links?.application === undefined || links.nodeId === undefined) return;
          const node = streamIdOf('node', links.nodeId);
          if (endingOf(d, node) !== undefined || endingOf(d, streamIdOf('application', links.application.appId)) !== undefined) return;
          return instanceRunsOn(d, appAeKey(links.application.appId, links.application.aeId), node);
        }
        case 'ApplicationEnrolled':
          return bindApplication(d, stream, streamIdOf('credential', e.event.data.credentialId));
        case 'ApplicationEnrolmentEnded':
          addEnrolmentEnd(d, { ...endingFields(e), reason: e.event.data.reason }, streamIdOf('credential', e.event.data.credentialId));
          return unbindApplication(d, stream);
        default:
          // A node's end (revoked, or its enrolment expired: both final) or an App-ID's releases its identifiers.
          if (e.event.type === 'NodeRevoked' || e.event.type === 'NodeEnrolmentExpired' || e.event.type === 'ApplicationRevoked') releaseIdentifiersOf(d, stream);
          if (e.event.type === 'ApplicationRevoked') unbindApplication(d, stream, { revoked: true });
          if (e.event.type === 'CredentialRevoked' || e.event.type === 'CredentialExpired') endInstanceCredential(d, stream);
          if (ENDINGS.has(e.event.type)) {
            const reason = (e.event.data as { reason?: unknown }).reason;
            addEnding(d, { ...endingFields(e), type: e.event.type, ...(typeof reason === 'string' ? { reason } : {}) });
          }
          return;
      }
    },
    async react(e: DecodedEvent) {
      if (db === undefined) throw new Error('cascade process manager used before setup');
      let reactions;
      try {
        reactions = await reactionsToEvent(e);
      } catch (error) {
        // A lookup outside any one dependent's (the event's own entity): nothing of the event can be worked out.
        if (!(error instanceof BrokenHistoryError)) throw error;
        return deadLetter(db, log, e, LOOKUP, error.streamId, error);
      }
      for (const reaction of reactions) {
        if (isUnresolved(reaction)) deadLetter(db, log, e, LOOKUP, reaction.unresolved.streamId, reaction.unresolved);
        else await issue(engine, db, log, batch, e, reaction);
      }
    },
  };
};

/** Where an event stands in a cascade: its stream and position, the event that caused it, and whether it is the cascade's. */
const endingFields = (e: DecodedEvent) => ({
  streamId: e.record.streamId,
  eventId: e.record.id,
  position: e.record.position,
  causeEventId: e.metadata.causationId,
  byCascade: e.metadata.actor.id === PROCESS_MANAGER_ACTOR.id,
});

const deadLetter = (db: Database.Database, log: CascadeLog, e: DecodedEvent, command: string, target: string, error: unknown): void => {
  const reason = error instanceof Error ? error.message : String(error);
  addDeadLetter(db, { position: e.record.position, eventType: e.event.type, command, target, reason });
  const stream = command === LOOKUP ? target : streamIdOf(targetKind(command), target);
  log({ outcome: 'dead-letter', command, target, reason, eventType: e.event.type, position: e.record.position, stream });
};

/**
 * One reaction to `e`, unless its effect already holds or it can have none: the target ended before `e` or later
 * in this batch (revoked and expired are final states, whose machines accept no command at all), or the cascade
 * recorded the command under its derived id (a rebuild, a resumed catch-up: its event is in this batch, or the
 * store's command index has it). Otherwise the engine decides it, as before: nothing is ever written that a machine
 * has not judged. A reaction with an `otherwise` has it issued when its machine refuses it, and counts as done when
 * either is recorded (a rebuild may choose the other one of the two on entities that moved since).
 *
 * Recorded counts only as the cascade's own: its actor and this command type. A derived id can be worked out before
 * its reaction runs, so another command may hold it (an operator's, stored before admission reserved derived ids);
 * taken as done, it made the cascade skip a credential of a revoked node (found in review; RS-16, HLR-212, seed 003
 * 11.2.2). The engine refuses the reaction under a taken id, and it is dead-lettered for an operator, never dropped.
 */
const issue = async (
  engine: CommandSink,
  db: Database.Database,
  log: CascadeLog,
  batch: BatchFacts,
  e: DecodedEvent,
  reaction: Reaction,
): Promise<void> => {
  const command = reaction.type;
  const target = targetOf(reaction);
  const kind = targetKind(command);
  const streamId = streamIdOf(kind, target);
  const ending = endingOf(db, streamId);
  if (ending !== undefined) return log(endedAlready(command, target, ending, e.record.id));
  const choices = reaction.otherwise === undefined ? [reaction] : [reaction, reaction.otherwise];
  for (const choice of choices) {
    const commandId = commandIdOf(choice, e);
    if (batch.commands.has(commandKey(streamId, commandId, choice.type))) return log({ outcome: 'duplicate', command: choice.type, target });
    if (await recordedBy(engine, kind, target, commandId, ownSender(choice.type))) return log({ outcome: 'duplicate', command: choice.type, target });
  }
  // Ended later in the log, by an event this batch holds: its machine is in a final state now, so the engine would
  // refuse the command, unless the target's history is broken, where it records a dead letter. Its load says which,
  // so a batch leaves the dead letters that one event at a time (and the live run) leaves.
  if (batch.endings.has(streamId)) {
    try {
      await engine.view(kind, target);
    } catch (error) {
      if (error instanceof BrokenHistoryError) return deadLetter(db, log, e, command, target, error);
      throw error;
    }
    return log({ outcome: 'skipped', command, target, reason: `${target} has ended already` });
  }
  for (const choice of choices) {
    try {
      const outcome = await engine.executeAsSystem({
        type: choice.type,
        data: choice.data,
        metadata: { commandId: commandIdOf(choice, e), actor: PROCESS_MANAGER_ACTOR, correlationId: e.metadata.correlationId, causationId: e.record.id },
      });
      return log({ outcome: outcome.deduplicated ? 'duplicate' : 'issued', command: choice.type, target });
    } catch (error) {
      if (isCredenceError(error, 'illegal_transition') || isCredenceError(error, 'not_found')) {
        log({ outcome: 'skipped', command: choice.type, target, reason: error.message });
      } else if (isCommandIdReused(error)) {
        // Done before under this id by the cascade, with data read from parents that have moved on since (a rebuild).
        // Anyone else's command under it (or one on another stream) leaves the reaction undone: it can never be
        // recorded under its id, so it waits for an operator. Without the command index whose it is cannot be told.
        const verdict = await ownOrTaken(engine, { kind, id: target }, commandIdOf(choice, e), ownSender(choice.type), error as Error);
        if (verdict === 'own') return log({ outcome: 'duplicate', command: choice.type, target });
        return deadLetter(db, log, e, choice.type, target, new Error(verdict.message));
      } else if (error instanceof BrokenHistoryError) {
        return deadLetter(db, log, e, choice.type, target, error);
      } else {
        // A conflict past the engine's retries or an I/O error: the checkpoint stays, the next run retries.
        throw error;
      }
    }
  }
};

/** A reaction's target is the id its data names first; its command id derives from the type, target and cause. */
const targetOf = (reaction: Reaction): string => Object.values(reaction.data)[0] as string;
const commandIdOf = (reaction: Reaction, e: DecodedEvent): string => derivedCommandId(`cascade:${reaction.type}:${targetOf(reaction)}`, e.record.id);

/** What the cascade's bookkeeping commands record. */
const BOOKKEEPING_EVENT_TYPES = [
  'CredentialAssociated',
  'CredentialAssociationReleased',
  'NodeAssociated',
  'NodeAssociationReleased',
  'ApplicationInstanceAssociated',
  'ApplicationInstanceReleased',
] as const;

/**
 * What the stored events of the batch being handled say, whatever the read model has reached: which commands the
 * cascade recorded (stream, command id and type) and which streams have ended. Facts of the store, so true for
 * every event of the batch, earlier ones included.
 */
interface BatchFacts {
  readonly commands: ReadonlySet<string>;
  readonly endings: ReadonlySet<string>;
}

/** A command recorded on a stream under an id, by the cascade, for one command type. */
const commandKey = (streamId: string, commandId: string, commandType: string): string => `${streamId}\n${commandId}\n${commandType}`;

/** Whether the cascade's own actor (id and role) recorded the event, as its command (the key holds the type): what else is recorded under an id is not its reaction. */
const sentByCascade = (e: DecodedEvent): boolean => sentBy(e.metadata, ownSender(e.metadata.commandType));

/** The cascade as the sender of a command of `commandType`: what its own reactions are known by. */
const ownSender = (commandType: string): CommandSender => ({ actor: PROCESS_MANAGER_ACTOR, commandType });

const targetKind = (type: string): EntityKind => EVENT_KIND[COMMAND_CATALOG[type as CommandType].event];

/** This reaction's own earlier effect (a cascade caused by this very event) or an ending that came otherwise. */
const endedAlready = (command: string, target: string, ending: Ending, causeId: string): Parameters<CascadeLog>[0] =>
  ending.byCascade && ending.causeEventId === causeId
    ? { outcome: 'duplicate', command, target }
    : { outcome: 'skipped', command, target, reason: `${target} has ended already (${ending.type})` };
