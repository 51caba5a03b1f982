import { openEventStoreDbStore } from '../../adapters/driven/store/eventstoredb/index.ts';
import { startStandIn } from '../esdb-standin/index.ts';
import { describeStoreConformance } from './suite.ts';

// The real @eventstore/db-client against the gRPC stand-in (test/esdb-standin): proves the adapter and the client's
// code path (serialisation, revisions, positions, errors, streaming reads); see docs/eventstoredb.md for what only
// a live server proves.
describeStoreConformance('eventstoredb adapter on the gRPC stand-in', async () => {
  const standIn = await startStandIn();
  return { store: openEventStoreDbStore(standIn.connectionString), cleanup: () => standIn.stop() };
});

// Positions past 2^53 everywhere: a Number anywhere on the path would lose them.
describeStoreConformance('eventstoredb adapter on the gRPC stand-in, positions beyond 2^53', async () => {
  const standIn = await startStandIn({ logStart: 2n ** 63n });
  return { store: openEventStoreDbStore(standIn.connectionString), cleanup: () => standIn.stop() };
});
