import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { StoreConnectionString } from '../../adapters/driven/store/open-store.ts';
import { serviceConfig, type ServiceConfigInput } from '../../adapters/http/config.ts';
import type { Role } from '../../adapters/http/context.ts';
import { startService, type RunningService, type StartOptions } from '../../adapters/http/start.ts';
import { ROLES } from '../../adapters/http/auth/access-control.ts';
import { afterAll, beforeAll } from 'vitest';
import { settledWithin } from './settled-within.ts';

export interface TestService {
  /** The current base URL (`http://127.0.0.1:<port>`); the port is kept across `restart()`. */
  readonly url: string;
  readonly dir: string;
  /** One token per role (subject `test-<role>`, two days), issued through the service's own AccessControl. */
  readonly tokens: Readonly<Record<Role, string>>;
  /** Every JSON log line written so far, across restarts. */
  logs(): string[];
  readonly service: RunningService;
  /** Graceful close, then a new service on the same data folder and port; tokens stay valid. */
  restart(): Promise<TestService>;
  /** Graceful close, and the data folder removed unless it was given. */
  close(): Promise<void>;
}

export interface TestServiceOptions extends Omit<StartOptions, 'logStream' | 'handleSignals'> {
  /** A data folder to use (kept on close); default: a new temporary one (removed on close). */
  readonly dir?: string;
  /** Configuration on top of the test defaults (port 0, info logs, a fast tick). */
  readonly config?: ServiceConfigInput;
}

/** Starts the real service on 127.0.0.1, port 0, in a temporary data folder, and issues a token for every role. */
export const startTestService = async (options: TestServiceOptions = {}): Promise<TestService> => {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'credence-service-'));
  const ownDir = options.dir === undefined;
  const lines: string[] = [];
  let partial = '';
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop()!;
      lines.push(...parts.filter((l) => l.length > 0));
      done();
    },
  });
  const { config: overrides, dir: _dir, ...given } = options;
  // A clock the test advances by hand is the time that passes: the live expiry ticks' check against the monotonic
  // clock (adapters/runtime/wall-clock-guard.ts) would otherwise hold them at its first jump.
  const { clock } = given;
  const startOptions = clock !== undefined && given.monotonicNow === undefined ? { ...given, monotonicNow: () => clock.now().getTime() } : given;
  // Event-loop load shedding off unless a test asks for it: test files run in parallel on a shared 2-core machine,
  // where a busy neighbour would otherwise turn any request into a 503 (test/http-limits.test.ts tests shedding).
  // Durability `normal`: these tests prove the service's behaviour, not the disk's (crash tests keep `full`).
  // Only the embedded store in a folder takes a durability (an EventStoreDB or in-memory store refuses one).
  const storeKind = overrides?.store === undefined ? 'sqlite' : StoreConnectionString.safeParse(overrides.store).data?.kind;
  const config = serviceConfig({
    host: '127.0.0.1', port: 0, logLevel: 'info', tickMs: 200, ...(storeKind === 'sqlite' ? { durability: 'normal' as const } : {}), ...overrides,
    limits: { maxEventLoopDelayMs: 0, ...overrides?.limits }, data: dir,
  });
  let service: RunningService;
  try {
    service = await startService(config, { ...startOptions, logStream });
  } catch (error) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const tokens = {} as Record<Role, string>;
  try {
    for (const role of ROLES) {
      // Two days (or the longest the service issues): tokens issued with one through the service expire no later than it.
      tokens[role] = (await service.context.access.issue({ subject: `test-${role}`, role, ttlSeconds: Math.min(2 * 86_400, service.context.access.maxTtlSeconds), issuedBy: 'test' })).token;
    }
  } catch (error) {
    // Not handed to the test, so closed here: nothing else would, nor remove its own data folder.
    try {
      await service.close();
    } finally {
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    }
    throw error;
  }
  const handle: TestService = {
    get url() {
      return service.url;
    },
    dir,
    tokens,
    logs: () => (partial.length > 0 ? [...lines, partial] : [...lines]),
    get service() {
      return service;
    },
    async restart() {
      const port = Number(new URL(service.url).port);
      await service.close();
      service = await startService({ ...config, port }, { ...startOptions, logStream });
      return handle;
    },
    async close() {
      try {
        await service.close();
      } finally {
        if (ownDir) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  return handle;
};

/** How long the closing of `useTestService` waits for a start its beforeAll gave up on. */
const LATE_START_MS = 30_000;

/**
 * The service of the describe block this is called in: started before its tests, closed after them. What it returns
 * stands for the running service (a property read before the start throws): `svc.url`, `svc.tokens`, as with
 * `startTestService`.
 */
export const useTestService = (options: TestServiceOptions = {}, startTimeoutMs = 30_000): TestService => {
  let started: TestService | undefined;
  // Made here rather than by startTestService: a start the beforeAll's timeout gave up on never hands back the folder
  // it made, and left it behind in the system's temporary folder.
  let ownDir: string | undefined;
  let starting: Promise<TestService> | undefined;
  beforeAll(async () => {
    ownDir = options.dir === undefined ? mkdtempSync(join(tmpdir(), 'credence-service-')) : undefined;
    starting = startTestService({ ...options, dir: ownDir ?? options.dir });
    started = await starting;
  }, startTimeoutMs);
  afterAll(async () => {
    try {
      // A start still under way (its beforeAll timed out): closed once it is up, if it is within half a minute more.
      const late = started ?? (await settledWithin(starting, LATE_START_MS));
      await late?.close();
    } finally {
      if (ownDir !== undefined) rmSync(ownDir, { recursive: true, force: true });
    }
  }, LATE_START_MS + 10_000);
  return new Proxy({} as TestService, {
    get: (_target, property) => {
      if (started === undefined) throw new Error('useTestService: the service is read before its describe block started it');
      const value: unknown = Reflect.get(started, property, started);
      return typeof value === 'function' ? value.bind(started) : value;
    },
  });
};
