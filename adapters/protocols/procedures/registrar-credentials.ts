import type { ApplicationContext } from '../../../machines/contexts.ts';
import { viewOf, type AssociationContext, type CredentialContext } from '../../../machines/index.ts';
import { credentialUsableAt, registreeApplicationCredentialStands, registreeApplicationEnrolled, registreeHeldByNode } from '../../../machines/guards.ts';
import { isWithin } from '../../../machines/types.ts';
import { type KeyHandle } from '../../../domain/ports/index.ts';
import { descriptorOf } from './descriptors.ts';
import type { InfrastructureOptions } from './infrastructure-options.ts';
import { servedUnderSubscription } from './run-admission.ts';

/** What the Registrar CSE reads of the engine: its options' engine and key registry. */
type Lookups = Pick<InfrastructureOptions, 'engine' | 'registry'>;

/** A credential a Registree's hello claims, by id and fingerprint, as the Registrar CSE may associate it. */
export const credentialById = async (o: Lookups, credentialId: string, fingerprint: string) => {
  const credential = await o.engine.peek('credential', credentialId);
  if ((credential.snapshot.context as CredentialContext).fingerprint !== fingerprint) return undefined;
  const descriptor = descriptorOf(credential);
  if (descriptor === undefined) return undefined;
  const [handle] = o.registry.live(credential.streamId, 'psk');
  // Whether it may associate is the association machine's own rule (credentialUsable: seed 003 11.2.2 and 11.3.2;
  // HLR-212), at the engine's instant, so the hello refuses exactly what the record would: found in review, the
  // hello checked the state alone (and the descriptor's window), and a predecessor whose rotation overlap had ended
  // ran its handshake to the finish, refused only when recorded (409), the expiry scheduler not having revoked it.
  const at = o.engine.clock.now().getTime();
  const usable = credentialUsableAt(viewOf(credential.snapshot), at);
  // Only what its holder is told at the finish (decoy.ts), never whether: outside its validity window the protocol
  // names that from the descriptor (credential_expired, credential_not_yet_valid); inside it, the rule refused a
  // credential its lifecycle ended or handed over to its successor, told as revoked.
  const revoked = !usable && isWithin(at, credential.snapshot.context as CredentialContext);
  // A standing rotation's overlap ends the credential for its associations (HLR-212): the grant is cut to it.
  const { overlapEndsAt } = credential.snapshot.context as CredentialContext;
  return {
    descriptor,
    ...(handle !== undefined ? { handle: handle as KeyHandle } : {}),
    ...(revoked ? { revoked: true } : {}),
    ...(overlapEndsAt !== undefined ? { overlapEndsAt: new Date(overlapEndsAt).toISOString() } : {}),
  };
};

/**
 * The credential an association configured by an operator (11.3.1) authenticates with, read from the engine on
 * every call (nothing is kept between requests): known only while the association waits for its handshake, is
 * configured with this Registrar CSE and names `registreeId` as its Registree, and that Registree may still
 * associate as the association machine will decide at establishment (its rules, machines/guards.ts).
 */
export const credentialOfAssociation = async (o: Lookups, registrarCseId: string, associationId: string, registreeId: string, fingerprint: string) => {
  const association = await o.engine.peek('association', associationId);
  const c = association.snapshot.context as AssociationContext;
  if (String(association.snapshot.value) !== 'initialized' || c.credentialId === undefined) return undefined;
  if (c.registree === undefined || c.registree.id !== registreeId || c.registrarCseId !== registrarCseId) return undefined;
  // No handshake for a node whose subscription ended while the cascade has not ended its enrolment yet (seed 003,
  // 11.2.1; found in review): unknown to the Registrar, as an association that is not waiting is.
  if (c.nodeId === undefined || (await servedUnderSubscription(o.engine, c.nodeId, (kind, id) => o.engine.peek(kind, id))) !== 'served') return undefined;
  // RS-01 (credentialBelongsToRegistree): a CSE Registree is the CSE-ID its node holds now, not the one it held at
  // configuration; a CSE-ID moved to another node is that node's (found in review: a renumbered node completed a
  // handshake under its old CSE-ID, since given to another node).
  const node = await o.engine.peek('node', c.nodeId);
  if (!registreeHeldByNode(viewOf(node.snapshot), c.registree)) return undefined;
  // Seed 003, 11.2.2 (applicationEnrolled): an AE's App-ID still enrolled (found in review: a handshake completed for
  // an App-ID the operator had revoked, the cascade not having revoked the association yet).
  if (c.registree.kind === 'ae') {
    const application = viewOf((await o.engine.peek('application', c.registree.appId)).snapshot);
    if (!registreeApplicationEnrolled(application, c.registree)) return undefined;
    // And the credential it is enrolled with stands now (applicationCredentialStands, 11.2.2): found in review 26, a
    // handshake under an App-ID whose credential had passed its notAfter ran to its finish, refused only there.
    const enrolledWith = (application.context as unknown as ApplicationContext | undefined)?.credentialId;
    const credential = enrolledWith === undefined ? undefined : viewOf((await o.engine.peek('credential', enrolledWith)).snapshot);
    if (!registreeApplicationCredentialStands(application, credential, c.registree, o.engine.clock.now().getTime())) return undefined;
  }
  return credentialById(o, c.credentialId, fingerprint);
};

/**
 * The credential association `associationId` was configured with for this Registree and Registrar CSE, whatever
 * the state of the association, its node or the credential: never to run a handshake with, only to check the proof
 * of a decoy run (adapters/protocols/shared/decoy.ts), so that the holder of a credential that ended is told why.
 */
export const credentialConfiguredFor = async (o: Lookups, registrarCseId: string, associationId: string, registreeId: string, fingerprint: string) => {
  const c = (await o.engine.peek('association', associationId)).snapshot.context as AssociationContext;
  if (c.credentialId === undefined || c.registree?.id !== registreeId || c.registrarCseId !== registrarCseId) return undefined;
  return credentialById(o, c.credentialId, fingerprint);
};
