import { ProblemResponse } from '../../../adapters/client/http.ts';
import { isServiceProblem } from '../../../adapters/client/service-problem.ts';

/** The way back of a node whose bootstrap credential ended (docs/service.md; README.md, factory re-provisioning). */
const newNodeId = (nodeId: string): string =>
  `a node's bootstrap credential is the one it was registered with, so node ${nodeId} is never provisioned again: ` +
  'this device comes back only under a new node id with a new bootstrap credential, in a new folder ' +
  '(credence device init --node-id <new id> --kind <ed25519|p256> --dir <new folder> with an operator token, then credence node enrol <new id> --subscription <id> --cse-id <CSE-ID>)';

/**
 * The Enrolment Function's refusal at `provisioning.auth` of a device whose proof verified but whose bootstrap
 * credential, or node, ended: `credential_revoked` (the bootstrap revoked or expired on record, or its node revoked)
 * or `credential_expired` (its window passed before the record says so), with a hint naming the one way back, as
 * `device associate` has for its own refusals (review 365: the refusal came alone). The hint is an extension member of
 * the problem (printed by name, kept in --json). Any other error is returned as it is.
 */
export const withBootstrapEndedHint = (
  error: unknown,
  b: { readonly nodeId: string; readonly bootstrapCredentialId: string; readonly notAfter: string },
): unknown => {
  if (!isServiceProblem(error, 'protocol') || error.problem['step'] !== 'provisioning.auth') return error;
  const bootstrap = `bootstrap credential ${b.bootstrapCredentialId} of node ${b.nodeId}`;
  const reason = error.problem['reason'];
  let hint: string;
  if (reason === 'credential_revoked') hint = `the Enrolment Function takes ${bootstrap} as ended (it was revoked or has expired, or the node was revoked): ${newNodeId(b.nodeId)}`;
  else if (reason === 'credential_expired') hint = `${bootstrap} is past its validity by the server's clock (it ends ${b.notAfter}): ${newNodeId(b.nodeId)}`;
  else return error;
  return new ProblemResponse(error.status, { ...error.problem, hint }, error.retryAfterMs);
};
