import { settled } from '../http-sse.fixtures.ts';
import { issueCredentialData, profile } from './fleet.ts';
import type { TestService } from './service.ts';

/**
 * A small fleet for the web console's browser tests and screenshots, driven through POST /v1/commands with the
 * operator token as a real client would: a subscription, four smart meters with bootstrap and service credentials
 * and associations with the Registrar CSE, one service credential expiring within a week, and meter-3 revoked for
 * key compromise, which the live cascade carries to its credentials and association.
 */

const DAY = 86_400_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

export const CONSOLE_FLEET = { subscription: 'city-utilities', nodes: ['meter-1', 'meter-2', 'meter-3', 'meter-4'], revoked: 'meter-3' } as const;

export const postCommand = async (svc: TestService, type: string, data: Record<string, unknown>): Promise<unknown> => {
  const response = await fetch(`${svc.url}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type, data }),
  });
  const body: unknown = await response.json();
  if (!response.ok) throw new Error(`${type} refused: ${response.status} ${JSON.stringify(body)}`);
  return body;
};

export const seedConsoleFleet = async (svc: TestService): Promise<void> => {
  const { subscription } = CONSOLE_FLEET;
  await postCommand(svc, 'createSubscription', { subscriptionId: subscription, subscriber: 'City Utilities', notBefore: iso(-DAY), notAfter: iso(365 * DAY) });
  for (const [i, nodeId] of CONSOLE_FLEET.nodes.entries()) {
    await postCommand(svc, 'registerNode', { nodeId, profile });
    await postCommand(svc, 'enrolNode', { nodeId, subscriptionId: subscription, cseId: `/cse-${nodeId}` });
    // meter-2's service credential ends within a week: the overview lists it as expiring soon.
    const notAfter = iso((nodeId === 'meter-2' ? 6 : 90 + i) * DAY);
    await postCommand(svc, 'issueCredential', issueCredentialData(`${nodeId}-service`, nodeId, { notBefore: iso(-DAY), notAfter }));
    await postCommand(svc, 'provisionCredential', { credentialId: `${nodeId}-service`, method: 'pre-provisioning' });
    await postCommand(svc, 'configureAssociation', {
      associationId: `${nodeId}-sa`,
      nodeId,
      credentialId: `${nodeId}-service`,
      registree: { kind: 'cse', id: `/cse-${nodeId}` },
      registrarCseId: '/in-cse',
    });
    await postCommand(svc, 'establishAssociation', { associationId: `${nodeId}-sa`, expiresAt: iso(5 * DAY) });
  }
  await settled(svc);
  await postCommand(svc, 'revokeNode', { nodeId: CONSOLE_FLEET.revoked, reason: 'keyCompromise' });
  await settled(svc);
};
