import { describe } from 'vitest';
import { openEventStoreDbStore } from '../../adapters/driven/store/eventstoredb/index.ts';
import { describeStoreConformance } from './suite.ts';

// The conformance suite on a real EventStoreDB / KurrentDB (23.10+), e.g.
//   EVENTSTORE_CONNECTION_STRING='esdb://localhost:2113?tls=false' npx vitest run test/store-conformance/esdb-live.test.ts
// The suite only writes randomly named streams, so a shared server is fine. Without the variable the whole suite is
// reported as skipped, with the reason in its name: no server can be installed on the project's own machines.
const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;

describe.skipIf(connectionString === undefined || connectionString.trim() === '')(
  connectionString
    ? 'live EventStoreDB server'
    : 'live EventStoreDB server (skipped: set EVENTSTORE_CONNECTION_STRING, e.g. esdb://localhost:2113?tls=false, to run it)',
  () => {
    describeStoreConformance('eventstoredb adapter on a live server', async () => ({
      store: openEventStoreDbStore(connectionString ?? ''),
    }));
  },
);
