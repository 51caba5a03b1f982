/**
 * TEST-ONLY: a follower's refusal of a call that needs the leader, as a real server sends it: status NOT_FOUND with
 * the `exception: not-leader` trailer and the leader's endpoint. The client turns it into its NotLeaderError (whose
 * constructor reads both endpoint trailers: without them it throws a TypeError instead) and reconnects to the leader.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';

export interface LeaderEndpoint {
  readonly host: string;
  readonly port: number;
}

export function notLeaderError(leader: LeaderEndpoint): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set('exception', 'not-leader');
  metadata.set('leader-endpoint-host', leader.host);
  metadata.set('leader-endpoint-port', String(leader.port));
  return { code: status.NOT_FOUND, details: 'Leader info available', metadata };
}
