/**
 * TEST-ONLY: the protobuf messages and gRPC service definitions that `@eventstore/db-client` ships in its
 * `generated/` folder. The stand-in registers these exact definitions, so the bytes on the wire are the ones a real
 * EventStoreDB server exchanges with the client.
 */
import streamsGrpc from '@eventstore/db-client/generated/streams_grpc_pb.js';
import streamsPb from '@eventstore/db-client/generated/streams_pb.js';
import persistentGrpc from '@eventstore/db-client/generated/persistent_grpc_pb.js';
import persistentPb from '@eventstore/db-client/generated/persistent_pb.js';
import featuresGrpc from '@eventstore/db-client/generated/serverfeatures_grpc_pb.js';
import featuresPb from '@eventstore/db-client/generated/serverfeatures_pb.js';
import sharedPb from '@eventstore/db-client/generated/shared_pb.js';

export { streamsGrpc, streamsPb, persistentGrpc, persistentPb, featuresGrpc, featuresPb, sharedPb };

export function streamIdentifier(streamId: string): InstanceType<typeof sharedPb.StreamIdentifier> {
  return new sharedPb.StreamIdentifier().setStreamName(Buffer.from(streamId, 'utf8'));
}

export function streamName(identifier: { getStreamName_asU8(): Uint8Array } | undefined): string {
  if (identifier === undefined) throw new Error('request has no stream identifier');
  return Buffer.from(identifier.getStreamName_asU8()).toString('utf8');
}

export function uuidString(uuid: InstanceType<typeof sharedPb.UUID> | undefined): string {
  if (uuid === undefined) throw new Error('message has no id');
  if (uuid.hasString()) return uuid.getString().toLowerCase();
  const structured = uuid.getStructured();
  if (structured === undefined) throw new Error('uuid has neither string nor structured form');
  const bytes = Buffer.alloc(16);
  bytes.writeBigInt64BE(BigInt(structured.getMostSignificantBits()), 0);
  bytes.writeBigInt64BE(BigInt(structured.getLeastSignificantBits()), 8);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function uuidMessage(id: string): InstanceType<typeof sharedPb.UUID> {
  return new sharedPb.UUID().setString(id);
}
