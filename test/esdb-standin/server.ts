/**
 * TEST-ONLY STAND-IN FOR EVENTSTOREDB. This is not EventStoreDB and not a fake of its storage engine: it is a
 * `@grpc/grpc-js` server on 127.0.0.1 that registers the service definitions `@eventstore/db-client` ships in its
 * `generated/` folder and answers just the calls the Credence adapter makes (Streams Append / Read / $all
 * subscriptions, PersistentSubscriptions Create / Read to $all, and optionally ServerFeatures). Pointing the real
 * client at it (`esdb://127.0.0.1:PORT?tls=false`) exercises the client's own code path: protobuf serialisation,
 * uint64 revisions and positions as strings, wrong-expected-version replies, stream-not-found while iterating,
 * filters, checkpoints, caught-up markers, drops. What it cannot prove (clustering, durability, real timing, TLS,
 * authentication, the server's own filter engine) is listed in docs/eventstoredb.md.
 */
import { Metadata, Server, ServerCredentials, status, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { featuresGrpc, featuresPb, persistentGrpc, streamsGrpc } from './proto.ts';
import { MemoryLog, type ProposedEvent } from './memory-log.ts';
import { streamsImplementation } from './streams-service.ts';
import { SubscriptionControl, type DropMode } from './all-subscription.ts';
import { persistentImplementation, type Group } from './persistent-service.ts';
import type { LeaderEndpoint } from './not-leader.ts';

export interface StandInOptions {
  /** Where the transaction log starts; events follow an epoch record. Use a value beyond 2^53 to test precision. */
  readonly logStart?: bigint;
  /**
   * Serve ServerFeatures (default true). Without it the client assumes an old server: it appends with `Append`
   * instead of `BatchAppend` (which the stand-in never implements) and refuses persistent subscriptions to $all.
   */
  readonly serverFeatures?: boolean;
  /** Port on 127.0.0.1; default 0, a free port chosen by the system. */
  readonly port?: number;
  /** Write one system event first, as a real server does, so that adapters must filter them out (default true). */
  readonly systemEvent?: boolean;
  /** Answer a repeated batch (same ids, same place) without a position, as older servers do (default false). */
  readonly repeatsWithoutPosition?: boolean;
  /** Milliseconds to hold the reply to an append to a stream, once written: an answer that comes late (default 0). */
  readonly appendReplyDelayMs?: (streamId: string) => number;
  /** Answer as a follower whose cluster's leader is this endpoint: every append and read is refused "not leader". */
  readonly notLeader?: LeaderEndpoint;
}

export interface StandIn {
  /** Connection string for the real client. */
  readonly connectionString: string;
  readonly port: number;
  /** Names of the gRPC methods called so far, in order; a read of $all backwards adds one of READ_ALL_BACKWARDS after its 'Read'. */
  readonly calls: readonly string[];
  readonly log: MemoryLog;
  readonly groups: ReadonlyMap<string, Group>;
  /** Drops every open $all subscription now. */
  dropSubscriptions(mode: DropMode): void;
  /** Drops the subscription that sends the `events`-th event from now on. */
  dropSubscriptionAfter(events: number, mode: DropMode): void;
  /** How many subscriptions were dropped on purpose so far. */
  readonly droppedSubscriptions: number;
  /** Events sent over $all subscriptions so far (after the server-side filter). */
  readonly subscriptionEventsSent: number;
  /** Fails every open persistent-subscription consumer connection with UNAVAILABLE. */
  dropPersistentConsumers(): void;
  /** Records (and bytes of their data and metadata) sent by reads so far, subscriptions not counted. */
  readonly recordsRead: number;
  readonly bytesRead: number;
  /**
   * From now on refuses every append and read as a real server refuses credentials: `unauthenticated` (a password
   * rotated: status UNAUTHENTICATED) or `access_denied` (permissions narrowed: PERMISSION_DENIED, `exception:
   * access-denied`); undefined answers again.
   */
  refuseCredentials(refusal: CredentialsRefusal | undefined): void;
  stop(): Promise<void>;
}

export type CredentialsRefusal = 'unauthenticated' | 'access_denied';

const credentialsRefusal = (refusal: CredentialsRefusal): Partial<ServiceError> => {
  if (refusal === 'unauthenticated') return { code: status.UNAUTHENTICATED, details: 'Bad authentication', metadata: new Metadata() };
  const metadata = new Metadata();
  metadata.set('exception', 'access-denied');
  return { code: status.PERMISSION_DENIED, details: 'Access denied', metadata };
};

export async function startStandIn(options: StandInOptions = {}): Promise<StandIn> {
  const log = new MemoryLog(options.logStart ?? 0n, { repeatsWithoutPosition: options.repeatsWithoutPosition ?? false });
  const calls: string[] = [];
  const recordCall = (method: string): void => void calls.push(method);
  const subscriptions = new SubscriptionControl();
  const groups = new Map<string, Group>();
  const connections = new Set<() => void>();
  const read = { records: 0, bytes: 0 };
  let refusal: CredentialsRefusal | undefined;
  if (options.systemEvent !== false) log.append('$settings', { kind: 'any' }, [systemEvent()]);

  const server = new Server();
  server.addService(
    streamsGrpc.StreamsService,
    streamsImplementation({ log, recordCall, subscriptions, appendReplyDelayMs: options.appendReplyDelayMs, notLeader: options.notLeader,
      recordRead: (event) => {
        read.records += 1;
        read.bytes += event.data.byteLength + event.customMetadata.byteLength;
      },
      refusal: () => (refusal === undefined ? undefined : credentialsRefusal(refusal)),
    }) as unknown as UntypedServiceImplementation,
  );
  server.addService(
    persistentGrpc.PersistentSubscriptionsService,
    persistentImplementation({ log, groups, recordCall, connections }) as unknown as UntypedServiceImplementation,
  );
  if (options.serverFeatures !== false) {
    server.addService(featuresGrpc.ServerFeaturesService, {
      getSupportedMethods: (_call: unknown, callback: (error: null, value: unknown) => void) => {
        recordCall('GetSupportedMethods');
        callback(null, supportedMethods());
      },
    } as unknown as UntypedServiceImplementation);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );

  return {
    connectionString: `esdb://127.0.0.1:${port}?tls=false`,
    port,
    calls,
    log,
    groups,
    dropSubscriptions: (mode) => subscriptions.dropAll(mode),
    dropSubscriptionAfter: (events, mode) => subscriptions.dropAfter(events, mode),
    get droppedSubscriptions() {
      return subscriptions.dropped;
    },
    get subscriptionEventsSent() {
      return subscriptions.eventsSent;
    },
    get recordsRead() {
      return read.records;
    },
    get bytesRead() {
      return read.bytes;
    },
    refuseCredentials: (next) => {
      refusal = next;
    },
    dropPersistentConsumers: () => {
      for (const fail of [...connections]) fail();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        subscriptions.dropAll('unavailable');
        for (const fail of [...connections]) fail();
        server.tryShutdown(() => resolve());
        // Long-lived calls a client forgot to cancel must not keep a test run alive.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 500).unref();
      }),
  };
}

function systemEvent(): ProposedEvent {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    type: '$settings',
    contentType: 'application/json',
    data: Buffer.from('{"$userStreamAcl":{}}'),
    customMetadata: new Uint8Array(),
  };
}

/** What the stand-in advertises: note the absence of BatchAppend. */
function supportedMethods(): InstanceType<typeof featuresPb.SupportedMethods> {
  const method = (service: string, name: string, features: string[] = []) =>
    new featuresPb.SupportedMethod().setServiceName(service).setMethodName(name).setFeaturesList(features);
  return new featuresPb.SupportedMethods()
    .setEventStoreServerVersion('23.10.0-credence-standin')
    .setMethodsList([
      method('event_store.client.streams.streams', 'read'),
      method('event_store.client.streams.streams', 'append'),
      method('event_store.client.persistent_subscriptions.persistentsubscriptions', 'create', ['stream', 'all']),
      method('event_store.client.persistent_subscriptions.persistentsubscriptions', 'read', ['stream', 'all']),
    ]);
}

