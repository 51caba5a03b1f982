import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../domain/events/index.ts';
import { PublicIdentities, type PseudonymDeriver } from '../projections/pseudonyms/index.ts';

/*
 * Found in review 45: the fold let an ended node's credentials go once all of them had ended, though one was the
 * successor of a rotation from a live predecessor of another node. That rotation's abandonment, later, names the
 * successor: forgotten, it was named in its form of no node, a second pseudonym for one credential in one epoch. A
 * successor is kept while a rotation to it stands (from its start until abandoned or its predecessor ends).
 */
const deriver = {
  identifier: async (kind: string, id: string, epoch: number, owner?: string) => `${kind}:${id}@${epoch}${owner === undefined ? '' : `/${owner}`}`,
} as unknown as PseudonymDeriver;
const event = (type: string, data: Record<string, unknown>) => ({ type, data }) as unknown as DomainEvent;
const issued = (credentialId: string, nodeId: string) =>
  event('CredentialIssued', { credentialId, owner: { kind: 'node', id: nodeId }, kind: 'ed25519', purpose: 'service', fingerprint: 'f', notBefore: 'x', notAfter: 'y' });

describe("the successor of a rotation in the pseudonymised stream's fold", () => {
  it("keeps its node's name while the rotation from a live predecessor stands, though it and its node ended; let go once the rotation is over", async () => {
    const ids = new PublicIdentities();
    ids.observe(issued('c1', 'n1'));
    ids.observe(issued('c2', 'n2'));
    ids.observe(event('CredentialRotationStarted', { credentialId: 'c1', successorId: 'c2', overlapEndsAt: 'z' }));
    ids.observe(event('NodeRevoked', { nodeId: 'n2', reason: 'cessationOfOperation' }));
    // As keyCompromise: it takes no raise, which would keep it too (review 210).
    ids.observe(event('CredentialRevoked', { credentialId: 'c2', reason: 'keyCompromise' }));
    // Any later event lets go what the ones before made unreachable.
    ids.observe(event('PseudonymRotated', { nodeId: 'n1', epoch: 1, pseudonym: 'p', trigger: 'demand' }));
    ids.observe(event('CredentialRotationAbandoned', { credentialId: 'c1', successorId: 'c2' }));
    // The abandonment's frame names the successor as every frame of its epoch did.
    expect(await ids.pseudonymOf(deriver, 'credential', 'c2')).toBe('credential:c2@0/n2');
    expect(await ids.pseudonymOf(deriver, 'credential', 'c1')).toBe('credential:c1@1/n1');
    // Once that frame is made, the rotation is over and nothing names the successor: it goes.
    ids.observe(event('PseudonymRotated', { nodeId: 'n1', epoch: 2, pseudonym: 'p', trigger: 'demand' }));
    expect(ids.size()).toMatchObject({ credentials: 1, endedCredentials: 0 });
  });
});
