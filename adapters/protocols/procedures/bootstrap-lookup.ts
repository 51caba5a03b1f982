import { type KeyHandle } from '../../../domain/ports/index.ts';
import { viewOf, type CredentialContext } from '../../../machines/index.ts';
import { bootstrapUsableFor, isFactoryCredential } from '../../../machines/guards.ts';
import { isWithin } from '../../../machines/types.ts';
import { descriptorOf, isWithdrawn } from './descriptors.ts';
import type { InfrastructureOptions } from './infrastructure-options.ts';

/** What a node that records no bootstrap has looked up instead: no credential id starts with `~` (domain/ids.ts). */
const NO_BOOTSTRAP = '~no-bootstrap';

/**
 * The bootstrap credential a node's provisioning hello authenticates with, as the M2M Enrolment Function sees it.
 * What a hello looks up is read with `engine.peek`, here and in registrar-credentials.ts (`credentialById`,
 * `credentialOfAssociation` and `credentialConfiguredFor`): before any proof, whether an id exists or what became of
 * it must not move the entity cache's public gauges (review 33: an unknown node added one entry, a revoked one two of
 * another size).
 */
export const bootstrapOf = async (o: Pick<InfrastructureOptions, 'engine' | 'registry'>, nodeId: string) => {
  const node = await o.engine.peek('node', nodeId);
  const bootstrapId = (node.snapshot.context as { bootstrapCredentialId?: string }).bootstrapCredentialId;
  // The same reads for every Node-ID, whatever the record holds (review 64 F2: an unknown node's hello read the store
  // once and the key registry never, a known one's twice and once, so its answer came sooner): a node with no
  // bootstrap looks up one that cannot exist, and the rule below runs on what it finds.
  const credential = await o.engine.peek('credential', bootstrapId ?? NO_BOOTSTRAP);
  const [handle] = o.registry.live(credential.streamId, 'psk');
  const descriptor = descriptorOf(credential);
  // Whether it may authenticate a provisioning is the credential machine's own rule (bootstrapIsUsable, seed 003
  // 11.2.1; HLR-212), at the engine's instant, so the hello refuses exactly what the record would: usable
  // (credentialUsableAt: provisioned, not ended, inside [notBefore, notAfter), not a rotation's predecessor past its
  // overlap) and the node's own (the guard's same owner: what is provisioned is the hello's node's). Left from
  // review 26: the hello read the state by a rule of its own (isWithdrawn), so a bootstrap issued but never
  // provisioned, handed over to its successor, or another node's ran to the receipt and was refused there (409).
  const at = o.engine.clock.now().getTime();
  const context = credential.snapshot.context as CredentialContext;
  // And a bootstrap credential, the node's registered one (bootstrapIsFactoryCredential, review 288): one the node
  // registered with but that was issued for another purpose is refused here as the record would refuse it.
  const view = viewOf(credential.snapshot);
  const usable = bootstrapUsableFor(view, { kind: 'node', id: nodeId }, at) && isFactoryCredential(view, bootstrapId);
  // A revoked node's bootstrap is known and revoked, not unknown: the hello's manufacturer chain is then checked
  // against its recorded certificate as for any node (found in review: checked against none, a revoked node's
  // answer differed from a usable one's before any proof), and its holder is told why at the auth.
  // Refused when the rule refuses it or the node is revoked: inside its window by this flag, outside it by the
  // descriptor's window, which the protocol names to the holder at the auth (credential_expired,
  // credential_not_yet_valid; decoy.ts); a bootstrap or node ended on record is told revoked wherever, as before.
  const revoked = isWithdrawn(credential) || String(node.snapshot.value) === 'revoked' || (!usable && isWithin(at, context));
  if (bootstrapId === undefined || descriptor === undefined) return undefined;
  return { descriptor, ...(handle !== undefined ? { handle: handle as KeyHandle } : {}), ...(revoked ? { revoked: true } : {}) };
};
