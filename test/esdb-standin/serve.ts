/**
 * TEST-ONLY: runs the stand-in as its own process, to point anything that takes a connection string at it, e.g.
 *   npx tsx test/esdb-standin/serve.ts 2113 &
 *   EVENTSTORE_CONNECTION_STRING='esdb://127.0.0.1:2113?tls=false' npx vitest run test/store-conformance/esdb-live.test.ts
 * It is still the stand-in, not EventStoreDB: in-memory, single node, no TLS, no authentication.
 */
import { startStandIn } from './server.ts';

const port = Number(process.argv[2] ?? '0');
if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error('port: must be an integer from 0 to 65535');
const standIn = await startStandIn({ port });
process.stdout.write(`${standIn.connectionString}\n`);
const stop = (): void => void standIn.stop().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
