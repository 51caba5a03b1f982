import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../domain/events/index.ts';
import { PublicIdentities, type PseudonymDeriver } from '../projections/pseudonyms/index.ts';

/*
 * Found in review: an ended node let its CSE-IDs and AE-IDs go by forgetting who had them, so an event stored after
 * the end (the cascade's bookkeeping, a raced import) named such an identifier at epoch 0, beside the node's other
 * identifiers at its last epoch: the two epochs linked. A released identifier keeps its last owner's epoch until
 * another node claims it; only credentials issued to it afterwards wait for that node.
 */
const deriver = {
  identifier: async (kind: string, id: string, epoch: number, owner?: string) => `${kind}:${id}@${epoch}${owner === undefined ? '' : `/${owner}`}`,
} as unknown as PseudonymDeriver;
const event = (type: string, data: Record<string, unknown>) => ({ type, data }) as unknown as DomainEvent;
const credential = (credentialId: string, owner: { kind: string; id: string }) =>
  event('CredentialIssued', { credentialId, owner, kind: 'ed25519', purpose: 'service', fingerprint: 'f', notBefore: 'x', notAfter: 'y' });

describe("an ended node's identifiers in the public stream", () => {
  it('keep their last epoch until another node claims them; credentials issued to them after wait for that node', async () => {
    const ids = new PublicIdentities();
    ids.observe(event('NodeEnrolled', { nodeId: 'n1', subscriptionId: 's', cseId: '/cse-1' }));
    ids.observe(event('AssociationConfigured', { associationId: 'a1', nodeId: 'n1', credentialId: 'c1', registree: { kind: 'ae', id: 'Cae1', appId: 'R' }, registrarCseId: '/in' }));
    ids.observe(event('PseudonymRotated', { nodeId: 'n1', epoch: 1, pseudonym: 'p', trigger: 'association' }));
    const named = async () => [
      await ids.pseudonymOf(deriver, 'association', 'a1'),
      await ids.pseudonymOf(deriver, 'ae', 'Cae1', { associationId: 'a1' }),
      await ids.pseudonymOf(deriver, 'cse', '/cse-1'),
    ];
    const before = await named();
    expect(before).toEqual(['association:a1@1/n1', 'ae:Cae1@1/n1', 'cse:/cse-1@1/n1']);

    ids.observe(event('NodeRevoked', { nodeId: 'n1', reason: 'keyCompromise' }));
    expect(await named()).toEqual(before);
    ids.observe(credential('later', { kind: 'cse', id: '/cse-1' }));
    expect(ids.nodeOf('credential', 'later')).toBeUndefined();

    // A replacement claims the CSE-ID: it and the waiting credential are its. An AE-ID is a node's only as a frame
    // names it (the node, or the association it comes with), so the same AE-ID under n2 is n2's and has another name.
    ids.observe(event('NodeEnrolled', { nodeId: 'n2', subscriptionId: 's', cseId: '/cse-1' }));
    ids.observe(event('AssociationConfigured', { associationId: 'a2', nodeId: 'n2', credentialId: 'c2', registree: { kind: 'ae', id: 'Cae1', appId: 'R' }, registrarCseId: '/in' }));
    expect([ids.nodeOf('cse', '/cse-1'), ids.nodeOf('ae', 'Cae1', { associationId: 'a2' }), ids.nodeOf('credential', 'later')]).toEqual(['n2', 'n2', 'n2']);
    expect(await ids.pseudonymOf(deriver, 'ae', 'Cae1', { associationId: 'a2' })).toBe('ae:Cae1@0/n2');
  });

  it('are not taken back by an association stored after the node ended', () => {
    const ids = new PublicIdentities();
    ids.observe(event('NodeEnrolled', { nodeId: 'n1', subscriptionId: 's', cseId: '/cse-1' }));
    ids.observe(event('NodeRevoked', { nodeId: 'n1', reason: 'keyCompromise' }));
    ids.observe(event('AssociationConfigured', { associationId: 'late', nodeId: 'n1', credentialId: 'c1', registree: { kind: 'ae', id: 'Cae9', appId: 'R' }, registrarCseId: '/in' }));
    ids.observe(credential('for-ae', { kind: 'ae', id: 'Cae9' }));
    expect(ids.nodeOf('credential', 'for-ae')).toBeUndefined();
  });
});
