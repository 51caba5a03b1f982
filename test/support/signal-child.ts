// Runs the service in a child process with signal handling, for test/http-signals.test.ts: prints the URL, then
// "closed" once a signal has shut it down. The process must then end on its own (nothing left holding it).
import { serviceConfig } from '../../adapters/http/config.ts';
import { startService } from '../../adapters/http/start.ts';

const service = await startService(serviceConfig({ host: '127.0.0.1', port: 0, data: process.argv[2]!, logLevel: 'silent' }), { handleSignals: true });
process.stdout.write(`${service.url}\n`);
await service.closed;
process.stdout.write('closed\n');
