import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { CredentialKind } from '../../../domain/crypto/credential.ts';
import { isCredenceError, validationError } from '../../../domain/errors.ts';
import { COMMAND_CATALOG, type CommandType } from '../../../domain/commands/index.ts';
import { ENTITY_ID_FIELD, EVENT_KIND } from '../../../domain/events/index.ts';
import { streamIdOf } from '../../../domain/streams.ts';
import { ProblemResponse, UnexpectedResponse, type ProblemDocument } from '../../../adapters/client/http.ts';
import { problemDocumentOf } from '../../../adapters/http/problems.ts';
import { isServiceProblem } from '../../../adapters/client/service-problem.ts';
import { refusedForGood } from '../../../adapters/client/refused-for-good.ts';
import { MAX_ENTITY_BYTES, type CommandOutcomeJson } from '../../../adapters/client/operator.ts';
import {
  associateOverHttp, httpDeviceTransport, provisionOverHttp, ReceiptOutcomeUnknown, type DeviceTransport,
} from '../../../adapters/client/device/index.ts';
import type { ProvisioningRecorded } from '../../../adapters/protocols/procedures/index.ts';
import { destroyQuietly } from '../../../adapters/protocols/shared/index.ts';
import { clientOf, type ServerTarget } from '../options.ts';
import { withSignKeyHint, type RequestSigner } from '../submit.ts';
import type { SimulatedDevice } from './simulator.ts';
import { clearPending, saveState, settlePendingProvisioning, writeAhead, type AdoptedCredential } from './pending-provisioning.ts';
import { destroyUnnamedKeys } from './unnamed-keys.ts';
import { roomForAssociation, roomForCredential } from './held-entries.ts';
import { stateFile } from './state.ts';
import { finishOutcomeUnknown, revokeIfNoKeys, revokeIt, watchingFinish } from './finish-outcome.ts';
import { withPinHint } from './pin-changed.ts';
import { receiptOutcomeUnknown, receiptRefused } from './receipt-outcome.ts';
import { withBootstrapEndedHint } from './bootstrap-ended.ts';
import { shellWord } from '../../shell-word.ts';

/**
 * The device's three moments against a server, shared by the single commands and the fleet: the factory (over the
 * operator API, with a token; factory.ts), remote provisioning and the association handshake (over the device routes,
 * no token).
 */

/**
 * The server of the operator API and, under a signing policy (--sign-key), how each operator command is signed: the
 * device commands that send them take the signing options lifecycle commands take (submit.ts).
 */
export interface OperatorTarget extends ServerTarget {
  readonly signer?: RequestSigner | undefined;
}

/**
 * One operator command through POST /v1/commands (the actor is the token's subject, never sent), and its outcome.
 * The answer must be this command's outcome: its command id when one was sent, the stream of the entity the data
 * names, and only the fact the catalog says the command records. Any other 2xx answer (a proxy's maintenance page,
 * another command's outcome) is an `UnexpectedResponse`, an outcome not known, never a success (found in review: a
 * 200 HTML page made `device init` report the device initialised while the server had recorded nothing).
 */
export const operatorCommand = async (target: OperatorTarget, type: CommandType, data: Record<string, unknown>, commandId?: string): Promise<CommandOutcomeJson> => {
  const { signer } = target;
  // Every command under a command id of its own: a signature covers it, and the client sends a command again only
  // under one when the service sheds load (the service stores it once at most).
  const id = commandId ?? randomUUID();
  const signature = signer !== undefined ? signer.sign(type, data, { commandId: id }) : undefined;
  const sent = clientOf(target).command({ type, data, commandId: id, ...(signature !== undefined ? { signature } : {}) });
  const { outcome } = await sent.catch((error: unknown) => {
    throw signer === undefined ? withSignKeyHint(error) : error;
  });
  const mismatch = outcomeMismatch(type, data, id, outcome);
  if (mismatch !== undefined) throw new UnexpectedResponse(`POST /v1/commands (${type})`, mismatch);
  return outcome;
};

/** What makes `outcome` not the outcome of this command, naming the field; undefined when it is. */
const outcomeMismatch = (type: CommandType, data: Record<string, unknown>, commandId: string, outcome: CommandOutcomeJson): string | undefined => {
  const event = COMMAND_CATALOG[type].event;
  const kind = EVENT_KIND[event];
  const streamId = streamIdOf(kind, String(data[ENTITY_ID_FIELD[kind]]));
  if (outcome.commandId !== commandId) return `commandId: ${outcome.commandId}, not the ${commandId} sent`;
  if (outcome.streamId !== streamId) return `streamId: ${outcome.streamId}, not ${streamId}`;
  if (outcome.events.length === 0) return `events: none, where ${type} records ${event}`;
  const other = outcome.events.findIndex((e) => e.type !== event || (e.streamId !== undefined && e.streamId !== streamId));
  if (other >= 0) return `events.${other}: ${outcome.events[other]!.type} on ${outcome.events[other]!.streamId ?? streamId}, where ${type} records ${event} on ${streamId}`;
  return undefined;
};

/** The server of the device routes (no token), and how long each answer may take (the client's default when absent). */
export interface DeviceServer {
  readonly url: string;
  readonly timeoutMs?: number | undefined;
}

/** A device's connection to `server`: its URL alone keeps the client's default timeout. */
export const transportOf = (server: string | DeviceServer): DeviceTransport =>
  typeof server === 'string' ? httpDeviceTransport(server) : httpDeviceTransport(server.url, { timeoutMs: server.timeoutMs });

/**
 * A credential provisioned, as the device holds it and checked it: its node, id, kind and fingerprint (the server's
 * answer had to name these, and the predecessor asked for, or the run failed as `credential_mismatch`), and whether
 * it holds a certificate, checked under the Enrolment Function's proof to certify its key. `serverPosition` and
 * `serverCompletedAt` are the server's unsigned word alone (the position of its `CredentialProvisioned`, and when it
 * recorded it): shown as such, never checked (review 417: the whole answer was shown as fact).
 */
export type ProvisionedCredential = {
  readonly type: 'provisioning.recorded';
  readonly nodeId: string;
  readonly credentialId: string;
  readonly kind: CredentialKind;
  readonly fingerprint: string;
  readonly predecessorId?: string;
  readonly certificate: 'held' | 'none';
  readonly serverPosition: ProvisioningRecorded['position'];
  readonly serverCompletedAt: ProvisioningRecorded['completedAt'];
};

/**
 * Remote provisioning of one credential. An earlier run left pending is settled first (`checkWith`, an operator
 * token, lets the server be asked whether it recorded it); asked for that same credential, its adoption is the
 * answer. The new key is named in the state before the receipt is sent (write-ahead), and the state holding the
 * credential is written once the server recorded it: a failure to write it is an error naming the state file, the
 * key kept and named as pending for a rerun to adopt. So is a receipt whose outcome is not known (no answer, a 5xx,
 * a 2xx that fails a local check, a refusal not signed by the Enrolment Function pinned: it may come from the path):
 * once the receipt is sent nothing destroys the key but its settling, or the server's refusal of it under that key
 * (provisionOverHttp throws it as it is, the key destroyed: the pending record is cleared).
 * Before all of it, the keys earlier runs left that no file names are destroyed (unnamed-keys.ts).
 */
export const provision = async (
  server: string | DeviceServer,
  sim: SimulatedDevice,
  r: { readonly credentialId: string; readonly kind: CredentialKind; readonly predecessorId?: string | undefined; readonly checkWith?: ServerTarget | undefined },
): Promise<ProvisionedCredential | AdoptedCredential> => {
  await destroyUnnamedKeys(sim);
  // device.json keeps at most MAX_ENTRIES credentials: with no room left, those expired by the device's clock go
  // (said on stderr), and a credential still with no room to be kept, adopted or new, is refused before anything is
  // sent (reviews 183, 207; held-entries.ts).
  await roomForCredential(sim, sim.state.provisioning?.credentialId);
  const adopted = await settlePendingProvisioning(sim, r.checkWith, r.credentialId);
  if (adopted?.credentialId === r.credentialId) return adopted;
  await roomForCredential(sim, r.credentialId);
  let written = false;
  try {
    const { result, recorded } = await provisionOverHttp(transportOf(server), sim.device, {
      credentialId: r.credentialId, kind: r.kind, predecessorId: r.predecessorId, enrolmentFunction: sim.state.pinned.enrolmentFunction,
      beforeReceipt: async (made) => {
        await writeAhead(sim, r.credentialId, made, server);
        written = true;
      },
    });
    written = false;
    clearPending(sim, `credential ${r.credentialId} is recorded by the server and its key stays named as pending there: run device provision again with an operator token to adopt it`);
    const held = result.credential;
    return {
      type: 'provisioning.recorded',
      nodeId: sim.device.nodeId,
      credentialId: r.credentialId,
      kind: held.kind,
      fingerprint: held.fingerprint,
      ...(r.predecessorId !== undefined ? { predecessorId: r.predecessorId } : {}),
      certificate: held.kind !== 'psk256' && held.certificate !== undefined ? 'held' : 'none',
      serverPosition: recorded.position,
      serverCompletedAt: recorded.completedAt,
    };
  } catch (error) {
    // The receipt went out and the server did not refuse it, but no good answer came back: it may hold the credential
    // bound to the key, so the key and its pending record stay for a rerun to settle by the fingerprint.
    if (error instanceof ReceiptOutcomeUnknown) throw receiptOutcomeUnknown(sim, error);
    // The run destroyed its key when it failed before the server's answer, or on the server's refusal of the receipt
    // under its pinned key (all else once the receipt was sent is ReceiptOutcomeUnknown): the state names it no longer.
    if (written) {
      try {
        clearPending(sim, 'its key is gone');
      } catch {
        // A rerun finds the pending key gone and forgets it.
      }
      throw receiptRefused(error, r.credentialId);
    }
    // A failed proof at the challenge: the Enrolment Function's key pinned at init compared with the server's.
    const hinted = await withPinHint(error, transportOf(server), sim.state.pinned);
    if (hinted !== error) throw hinted;
    // Its proof verified, and its bootstrap or node has ended: the one way back named (review 365).
    const { bootstrap, nodeId } = sim.state;
    throw withBootstrapEndedHint(error, { nodeId, bootstrapCredentialId: bootstrap.credentialId, notAfter: bootstrap.descriptor.validity.notAfter });
  }
};

/**
 * The refusal of a handshake this run configured nothing for (no token) that a failed proof explains as an association
 * nobody configured: the server answers a finish for one as it answers a failed proof (the decoy, which tells a
 * stranger nothing; docs/service.md), so `bad_signature` or `bad_mac` alone left the operator looking at the device's
 * keys (found in review). A PSK device fails earlier, at its own check of the decoy challenge (keyed by no PSK it
 * holds): `bad_mac` at `association.challenge`, which also says a Registrar other than the one pinned (found in
 * review 126: it came without the hint), or, named first, that its credential was revoked or expired: the Registrar
 * no longer holds the PSK then, so it cannot authenticate itself, let alone say why (review 161: the hint pointed only
 * at `association configure`, which the engine refuses for such a credential). An association the server says takes
 * no handshake any more (`association_not_waiting`: established already, say, its confirm lost) is told how to
 * configure a new one, and, when the device holds no session keys for it, to revoke it: it may be live at the
 * Registrar from a run whose finish's answer was lost (review 183). The hint is an extension member of the problem:
 * printed by name, kept in --json.
 */
const withConfigureHint = (
  error: unknown,
  a: {
    readonly associationId: string; readonly nodeId: string; readonly credentialId: string; readonly registreeId: string; readonly registrarId: string;
    /** Whether the device's state holds session keys for the association. */
    readonly keysHeld: boolean;
  },
): unknown => {
  // Each id one shell word, as typed: a command the operator pastes runs nothing an id holds (review 365). `word` is
  // one already, a placeholder such as `<new id>` left for the operator to replace.
  const configureAs = (word: string) =>
    `credence association configure ${word} --node ${shellWord(a.nodeId)} --credential ${shellWord(a.credentialId)} ` +
    `--registrar ${shellWord(a.registrarId)} --registree-cse ${shellWord(a.registreeId)}`;
  const withToken = 'with an operator token (--token-file, --token or CREDENCE_TOKEN)';
  const hint = (status: number, problem: ProblemDocument, lead: string) =>
    new ProblemResponse(status, {
      ...problem,
      hint: `no token was given, so this run configured no association: ${lead}if no operator configured ${a.associationId}, run ${configureAs(shellWord(a.associationId))}, ` +
        `or run device associate again ${withToken} to configure it first`,
    });
  if (error instanceof ProblemResponse) {
    if (error.status !== 422 || error.problem['step'] !== 'association.finish') return error;
    if (error.problem['reason'] === 'association_not_waiting') {
      return new ProblemResponse(error.status, {
        ...error.problem,
        hint: `association ${a.associationId} takes no handshake any more: ${revokeIfNoKeys(a.associationId, a.keysHeld)}` +
          `run device associate again under a new --association-id, ${withToken} to configure it, or once an operator has run ${configureAs('<new id>')}`,
      });
    }
    if (error.problem['reason'] !== 'bad_signature' && error.problem['reason'] !== 'bad_mac') return error;
    return hint(error.status, error.problem, '');
  }
  if (isCredenceError(error, 'protocol') && error.problem.code === 'protocol' && error.problem.step === 'association.challenge' && error.problem.reason === 'bad_mac') {
    const problem = problemDocumentOf(error);
    return hint(
      problem.status,
      problem,
      `${a.associationId} may not be configured for credential ${a.credentialId}, ` +
        `or credential ${a.credentialId} was revoked or has expired (the Registrar no longer holds its PSK; ask the operator), ` +
        `or the Registrar is not the one pinned (${a.registrarId}): `,
    );
  }
  return error;
};

/** The association machine's state once configured and waiting for its handshake (docs/service.md: "configured"). */
const CONFIGURED = 'initialized';
/** Its state once its handshake ran (docs/service.md: `associated`): live at the Registrar until it ends. */
const ESTABLISHED = 'associated';

/** What the service's `illegal_transition` problem says of the entity that refused (adapters/http/problems.ts). */
const IllegalTransition = z.looseObject({ streamId: z.string(), state: z.string(), allowed: z.array(z.string()), rule: z.string().optional() });

/**
 * The refusal of the association's configuration that ends the run, or undefined for the service's word that the
 * association is configured and waiting (the handshake then says whether it is this one). Any other 409 took it as
 * that word (found in review): on an association whose handshake had run, the run went on to a finish refused (then as
 * `unknown_credential`, since review 161 `association_not_waiting`). A refusal by a rule says why by its rule; an association past its
 * configuration gets, as an extension member (printed by name, kept in --json), that it takes no handshake, and, one
 * established that the device holds no session keys for, to revoke it.
 */
const configurationRefusal = (error: unknown, associationId: string, keysHeld: boolean): unknown => {
  if (!isServiceProblem(error, 'illegal_transition') || error.status !== 409) return error;
  const said = IllegalTransition.safeParse(error.problem);
  if (!said.success || said.data.streamId !== streamIdOf('association', associationId) || said.data.rule !== undefined) return error;
  if (said.data.state === CONFIGURED) return undefined;
  if (said.data.state === 'absent') return error;
  return new ProblemResponse(error.status, {
    ...error.problem,
    hint: `association ${associationId} is in state ${said.data.state}, where it takes no handshake: ` +
      `${said.data.state === ESTABLISHED ? revokeIfNoKeys(associationId, keysHeld) : ''}a new handshake needs a new association id (--association-id)`,
  });
};

/** What the server holds of a configured association (machines/contexts.ts AssociationContext), read to compare. */
const ConfiguredAssociation = z.looseObject({
  context: z.looseObject({
    nodeId: z.string().optional(),
    credentialId: z.string().optional(),
    registrarCseId: z.string().optional(),
    registree: z.looseObject({ kind: z.string(), id: z.string() }).optional(),
  }),
});

/**
 * The service's 409 says the association is configured and waiting, not that it is configured as this run asked: one
 * configured for another credential went on to a handshake refused as `bad_mac (Registrar CSE authentication
 * failed)`, which pointed at the Registrar (found in review 126). Read back, each member that differs is named.
 */
const assertConfiguredAsAsked = async (
  target: ServerTarget,
  asked: { readonly associationId: string; readonly nodeId: string; readonly credentialId: string; readonly registree: { readonly kind: string; readonly id: string }; readonly registrarCseId: string },
): Promise<void> => {
  const entity = await clientOf(target).entity('association', asked.associationId, MAX_ENTITY_BYTES);
  const held = ConfiguredAssociation.safeParse(entity);
  if (!held.success) throw new UnexpectedResponse(`GET /v1/entities/association/${asked.associationId}`, 'context: not an association\'s');
  const { context } = held.data;
  const configured = `association ${asked.associationId} is configured and waiting for its handshake`;
  const issues = [
    ...(context.credentialId !== asked.credentialId ? [{ path: 'credentialId', rule: 'configured', message: `${configured} for credential ${context.credentialId ?? 'none'}, not ${asked.credentialId}` }] : []),
    ...(context.nodeId !== asked.nodeId ? [{ path: 'nodeId', rule: 'configured', message: `${configured} for node ${context.nodeId ?? 'none'}, not ${asked.nodeId}` }] : []),
    ...(context.registree?.kind !== asked.registree.kind || context.registree.id !== asked.registree.id
      ? [{ path: 'registree', rule: 'configured', message: `${configured} for registree ${context.registree !== undefined ? `${context.registree.kind} ${context.registree.id}` : 'none'}, not ${asked.registree.kind} ${asked.registree.id}` }]
      : []),
    ...(context.registrarCseId !== asked.registrarCseId ? [{ path: 'registrarCseId', rule: 'configured', message: `${configured} with Registrar ${context.registrarCseId ?? 'none'}, not the pinned ${asked.registrarCseId}` }] : []),
  ];
  if (issues.length === 0) return;
  // A configured association is never configured again: what to do is said once, after the last difference.
  const last = issues.at(-1)!;
  throw validationError([...issues.slice(0, -1), { ...last, message: `${last.message}: a handshake for this device needs a new association id (--association-id)` }], 'association');
};

/** At most this many of the service credentials a device holds are named in a refusal; device status lists all. */
const NAMED_AT_MOST = 5;

/** The refusal of an association asked for with the device's bootstrap credential, naming those it may use. */
const bootstrapIsNoServiceCredential = (sim: SimulatedDevice): unknown => {
  const { nodeId, bootstrap } = sim.state;
  const held = [...sim.device.credentials.keys()];
  const named = held.slice(0, NAMED_AT_MOST);
  const more = held.length - named.length;
  const which = held.length === 0
    ? `and device ${nodeId} holds none yet: run credence device provision first`
    : more > 0
      ? `such as ${named.join(', ')} or one of ${more} more (credence device status lists them)`
      : `such as ${named.length === 1 ? named[0]! : `${named.slice(0, -1).join(', ')} or ${named.at(-1)!}`}`;
  return validationError([{
    path: 'credentialId', rule: 'service-credential',
    message: `${bootstrap.credentialId} is the bootstrap credential of device ${nodeId}, which only provisions: an association authenticates with a service credential, ${which}`,
  }], 'association');
};

/**
 * The association handshake for an association an operator configured. With an operator's token, the association
 * is configured first (the service's 409 saying it is configured already and waiting goes on to the handshake when it is
 * configured as asked; any other refusal, a gateway's 409 among them, ends the run: configurationRefusal). A credential
 * the device does not hold is refused before anything is sent. First, the keys earlier runs left that no file names
 * are destroyed (unnamed-keys.ts): one killed between its state write and destroying the keys it no longer names.
 */
export const associate = async (
  server: string | DeviceServer,
  sim: SimulatedDevice,
  r: { readonly associationId: string; readonly credentialId: string; readonly lifetimeSeconds: number; readonly configureWith?: OperatorTarget | undefined },
) => {
  await destroyUnnamedKeys(sim);
  const { device, state } = sim;
  // The bootstrap credential is held, and listed by device status, but only ever authenticates a provisioning
  // (seed 003 11.2.1): "holds no credential" named it as not there (review 365).
  if (r.credentialId === state.bootstrap.credentialId) throw bootstrapIsNoServiceCredential(sim);
  const registreeId = device.cseId;
  if (registreeId === undefined) {
    throw validationError([{ path: 'cseId', rule: 'provisioned', message: `device ${device.nodeId} has no CSE-ID yet: enrol the node, then provision a credential` }], 'association');
  }
  // Before anything is sent: an association configured at the server for a credential the device does not hold
  // stays configured after the run fails, and a rerun for another credential took it as its own (found in review 126).
  if (!device.credentials.has(r.credentialId)) {
    const pending = state.provisioning?.credentialId === r.credentialId
      ? `: it is named as pending in ${stateFile(sim.dir)}, so run device provision again with an operator token (--token-file, --token or CREDENCE_TOKEN) to settle it`
      : '';
    throw validationError([{ path: 'credentialId', rule: 'held', message: `device ${device.nodeId} holds no credential ${r.credentialId}${pending}` }], 'association');
  }
  // device.json keeps at most MAX_ENTRIES associations: with no room left, those expired by the device's clock go
  // (said on stderr), and an association still with no room to be kept is refused here, before the Registrar records
  // one the device could not keep keys for (reviews 183, 207; held-entries.ts).
  await roomForAssociation(sim, r.associationId);
  const keysHeld = sim.state.associations.some((a) => a.associationId === r.associationId);
  if (r.configureWith !== undefined) {
    const configuration = {
      associationId: r.associationId, nodeId: device.nodeId, credentialId: r.credentialId,
      registree: { kind: 'cse', id: registreeId }, registrarCseId: state.pinned.registrar.id,
    } as const;
    try {
      await operatorCommand(r.configureWith, 'configureAssociation', configuration);
    } catch (error) {
      const refusal = configurationRefusal(error, r.associationId, keysHeld);
      if (refusal !== undefined) throw refusal;
      await assertConfiguredAsAsked(r.configureWith, configuration);
    }
  }
  const finish = watchingFinish(transportOf(server), r.associationId);
  const outcome = await associateOverHttp(finish.transport, device, {
    associationId: r.associationId, credentialId: r.credentialId, lifetimeSeconds: r.lifetimeSeconds, registreeId, registrar: state.pinned.registrar,
  }).catch(async (error: unknown) => {
    if (finish.sent && !refusedForGood(error)) throw finishOutcomeUnknown(error, r.associationId);
    // A failed proof at the challenge: the Registrar CSE's key pinned at init compared with the server's.
    const hinted = await withPinHint(error, transportOf(server), state.pinned);
    if (hinted !== error) throw hinted;
    throw r.configureWith === undefined ? withConfigureHint(error, { ...r, nodeId: device.nodeId, registreeId, registrarId: state.pinned.registrar.id, keysHeld }) : error;
  });
  const before = sim.state;
  const previous = before.associations.find((a) => a.associationId === r.associationId);
  const established = {
    ...before,
    associations: [
      ...before.associations.filter((a) => a.associationId !== r.associationId),
      {
        associationId: r.associationId, credentialId: r.credentialId, registrarId: outcome.registrarId, registreeId: outcome.registreeId,
        sessionKeys: outcome.sessionKeys, transcriptHash: outcome.transcriptHash, establishedAt: outcome.establishedAt, expiresAt: outcome.expiresAt,
      },
    ],
  };
  // The state is written before the keys of an earlier handshake for this association are destroyed: a state that
  // cannot be written leaves the device as it was (the new keys destroyed, the old ones kept and named), where
  // destroying first left a state naming destroyed keys and new keys no state named (found in review). A run that
  // dies between the two leaves only the old keys unnamed, never a handle to nothing. The refusal names the file
  // and what to do: the Registrar recorded the association (review 183: a raw ZodError, and no word of it).
  try {
    saveState(sim, established, `the Registrar recorded association ${r.associationId}, whose new session keys are destroyed, so this device keeps none for it: ${revokeIt(r.associationId)}`);
  } catch (error) {
    await destroyQuietly(device.se, outcome.sessionKeys.send, outcome.sessionKeys.receive);
    throw error;
  }
  if (previous !== undefined) await destroyQuietly(device.se, previous.sessionKeys.send, previous.sessionKeys.receive);
  return outcome;
};
