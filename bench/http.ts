import { startServerChild } from './http-child.ts';
import { benchHttpCommands } from './http-commands.ts';
import { benchHttpDevices } from './http-devices.ts';
import { benchHttpRevocation } from './http-revocation.ts';
import { benchHttpSubscribers } from './http-subscribers.ts';

/**
 * `BENCH_ONLY=http npm run bench`: the service over HTTP on 127.0.0.1 (issue 12, "Benchmarks"). One server in a
 * child process (its memory measured on its own, its event loop not shared with the load generator) serves every
 * part, with rate limits raised and load shedding off so that neither throttles the benchmark (it measures the
 * service, not its protections), warn-level logs (no line per request), and room for 200 streams on one token.
 * BENCH_HTTP_PARTS=commands,revocation,subscribers,devices runs a subset.
 */
const SERVER_CONFIG = {
  logLevel: 'warn',
  limits: {
    rateLimitPerPrincipal: 10_000_000,
    rateLimitPerAddress: 10_000_000,
    maxEventLoopDelayMs: 0,
    // The subscribers part opens 200 canonical streams: the service-wide bound (64 by default) must let them all in.
    maxSseStreamsPerPrincipal: 256,
    maxSseStreams: 256,
    // One device makes every measured run (http-devices.ts).
    protocolRunsPerDevice: 10_000_000,
    // A hello's cost, not the floor under its answer (a timer the default 50 ms of which every hello would wait).
    helloFloorMs: 0,
  },
} as const;

const PARTS = {
  commands: benchHttpCommands,
  revocation: benchHttpRevocation,
  subscribers: benchHttpSubscribers,
  devices: benchHttpDevices,
} as const;

export async function benchHttp(report: (line: string) => void): Promise<void> {
  const only = process.env['BENCH_HTTP_PARTS']?.split(',');
  report(
    `server: a child process on 127.0.0.1 (SQLite store, Secure Environment on disk, live runtime), rate limits ` +
      `${SERVER_CONFIG.limits.rateLimitPerPrincipal.toLocaleString('en-US')}/min per principal and per address, load shedding off, logs at warn`,
  );
  const server = await startServerChild(SERVER_CONFIG);
  try {
    for (const [name, part] of Object.entries(PARTS)) if (only === undefined || only.includes(name)) await part(report, server);
  } finally {
    const warnings = server.warnings();
    await server.close();
    report(`server warnings/errors logged: ${warnings.length}${warnings.length > 0 ? ` (first: ${warnings[0]!.slice(0, 300)})` : ''}`);
  }
}
