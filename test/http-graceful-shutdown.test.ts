import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAccessControl } from '../adapters/http/auth/open-access-control.ts';
import type { RouteModule } from '../adapters/http/context.ts';
import { startTestService, type TestService } from './support/service.ts';
import { body } from './http-conformance.fixtures.ts';

let arrived: () => void = () => {};

const slowAndStreaming: RouteModule = (app, context) => {
  // A request still in flight when shutdown begins: it must complete.
  app.get('/test/slow', { config: { access: 'public' } }, async () => {
    arrived();
    await new Promise((r) => setTimeout(r, 400));
    return { done: true };
  });
  // A long-lived response, like the SSE stream: it ends with a retry hint when shutdown begins.
  app.get('/test/stream', { config: { access: 'public' } }, async (_request, reply) => {
    const stream = new Readable({ read() {} });
    stream.push(': open\n\n');
    context.shutdown.addEventListener('abort', () => {
      stream.push('retry: 1000\n\n');
      stream.push(null);
    });
    return reply.type('text/event-stream').send(stream);
  });
};

describe('graceful shutdown', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ routes: [slowAndStreaming] });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('finishes the request in flight, ends long-lived streams with a retry hint, then refuses connections', async () => {
    const url = svc.url;
    const streamed = fetch(`${url}/test/stream`).then((r) => r.text());
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    const slow = fetch(`${url}/test/slow`);
    await inFlight;
    const signal = svc.service.context.shutdown;
    const closing = svc.service.close();

    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ done: true });
    expect(await streamed).toContain('retry: 1000');
    await closing;
    expect(signal.aborted).toBe(true);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});

// Issue 12: "graceful shutdown loses nothing acknowledged", with real commands. A command is acknowledged when it
// got a 2xx; each must be in the store after a restart on the same folder, with the events its answer named. A
// command refused with 503 while closing must have written nothing. Requests that failed at the socket (the
// server no longer listening) were acknowledged to no one and are not judged.

interface Sent {
  readonly commandId: string;
  /** The HTTP status, or `socket` when no answer came. */
  readonly status: number | 'socket';
  readonly events: readonly { id: string; position: string }[];
  readonly problem?: Record<string, unknown>;
}

/** Sends registerNode commands, each with its own command id, from `workers` loops until `stop()` or a socket error. */
const load = (url: string, token: string, options: { readonly workers: number; readonly perWorker: number; readonly onAcknowledged: (count: number) => void }) => {
  const sent: Sent[] = [];
  let acknowledged = 0;
  const worker = async (): Promise<void> => {
    for (let i = 0; i < options.perWorker; i++) {
      const commandId = randomUUID();
      let response: Response;
      try {
        response = await fetch(`${url}/v1/commands`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ ...body.registerNode(`meter-${commandId}`), commandId }),
        });
      } catch {
        sent.push({ commandId, status: 'socket', events: [] });
        return;
      }
      let payload: Record<string, unknown> = {};
      try {
        payload = (await response.json()) as Record<string, unknown>;
      } catch {
        // A body cut off by the close: the status alone was received, and a 2xx whose body is lost is not judged.
        sent.push({ commandId, status: 'socket', events: [] });
        return;
      }
      const events = response.ok ? (payload['events'] as { id: string; position: string }[]) : [];
      sent.push({ commandId, status: response.status, events, ...(response.ok ? {} : { problem: payload }) });
      if (response.ok) options.onAcknowledged(++acknowledged);
    }
  };
  return { sent, done: Promise.all(Array.from({ length: options.workers }, worker)) };
};

/** Every stored event by the command id it was written for. */
const storedByCommand = async (svc: TestService): Promise<Map<string, { id: string; position: string }[]>> => {
  const byCommand = new Map<string, { id: string; position: string }[]>();
  for await (const e of svc.service.context.credence.store.readAll()) {
    const commandId = String(e.metadata['commandId']);
    byCommand.set(commandId, [...(byCommand.get(commandId) ?? []), { id: e.id, position: e.position.toString(10) }]);
  }
  return byCommand;
};

/** Every acknowledged command is stored with exactly the events its answer named; every 503 wrote nothing. */
const expectNothingAcknowledgedLost = (sent: readonly Sent[], stored: Map<string, { id: string; position: string }[]>): void => {
  const acknowledged = sent.filter((s) => typeof s.status === 'number' && s.status >= 200 && s.status < 300);
  const lost = acknowledged.filter((s) => JSON.stringify(stored.get(s.commandId) ?? []) !== JSON.stringify(s.events.map(({ id, position }) => ({ id, position }))));
  expect(lost.map((s) => s.commandId)).toEqual([]);
  for (const s of sent.filter((x) => x.status === 503)) {
    expect(s.problem).toMatchObject({ type: 'https://credence.dev/problems/overloaded', status: 503 });
    expect(stored.has(s.commandId)).toBe(false);
  }
  // Anything else a command got is a 2xx, a 503 or no answer at all: never a 500 on the way down.
  expect(sent.filter((s) => s.status !== 'socket' && s.status !== 503 && !(s.status >= 200 && s.status < 300))).toEqual([]);
};

describe('graceful shutdown under a load of commands', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-shutdown-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Holds the close just after the service began refusing (its own preClose hook ran first) and before it stops
  // listening, so commands that arrive then are certain to meet the 503 rather than only by chance.
  let holdClose = false;
  let atHold: () => void = () => {};
  const holdingClose: RouteModule = (app) => {
    app.addHook('preClose', async () => {
      if (!holdClose) return;
      holdClose = false;
      atHold();
      await new Promise((resolve) => setTimeout(resolve, 150));
    });
  };

  it('keeps every command it acknowledged across a restart, and a command refused with 503 while closing wrote nothing', async () => {
    const svc = await startTestService({ dir, routes: [holdingClose] });
    try {
      let closing: Promise<void> | undefined;
      const held = new Promise<void>((resolve) => (atHold = resolve));
      holdClose = true;
      const CLOSE_AFTER = 40;
      const run = load(svc.url, svc.tokens.operator, {
        workers: 24,
        perWorker: 200,
        // Close while two dozen commands are in flight, and the workers keep sending until the socket refuses them.
        onAcknowledged: (count) => {
          if (count === CLOSE_AFTER) closing = svc.service.close();
        },
      });
      await run.done;
      expect(closing).toBeDefined();
      await held;
      await closing;
      const acknowledged = run.sent.filter((s) => typeof s.status === 'number' && s.status < 300).length;
      expect(acknowledged).toBeGreaterThanOrEqual(CLOSE_AFTER);
      // The close did meet the load: commands refused with 503 while it ran, then sockets refused once it stopped listening.
      expect(run.sent.filter((s) => s.status === 503).length).toBeGreaterThan(0);
      expect(run.sent.filter((s) => s.status === 'socket').length).toBeGreaterThan(0);

      await svc.restart();
      expectNothingAcknowledgedLost(run.sent, await storedByCommand(svc));
    } finally {
      await svc.close();
    }
  }, 60_000);
});

describe('SIGKILL after acknowledgement', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-sigkill-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const CHILD = fileURLToPath(new URL('./support/signal-child.ts', import.meta.url));

  it('a service killed with SIGKILL under load has stored every command it acknowledged: a restart finds them all', async () => {
    // The service in a child process (test/support/signal-child.ts), which the test can kill outright.
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const line = out.split('\n').find((l) => l.startsWith('http://'));
          if (line !== undefined) resolve(line);
        });
        child.on('exit', () => reject(new Error(`child ended early: ${err}`)));
      });
      // A token from the data folder, as `credence token create --data` issues it beside a running service.
      const local = await openAccessControl(dir);
      const { token } = await local.access.issue({ subject: 'sigkill-operator', role: 'operator', ttlSeconds: 600, issuedBy: 'local:test' });
      local.close();

      const KILL_AFTER = 40;
      const run = load(url, token, {
        workers: 16,
        perWorker: 200,
        onAcknowledged: (count) => {
          if (count === KILL_AFTER) child.kill('SIGKILL');
        },
      });
      await run.done;
      expect(await exited).toBe('SIGKILL');
      expect(run.sent.filter((s) => typeof s.status === 'number' && s.status < 300).length).toBeGreaterThanOrEqual(KILL_AFTER);

      // The killed service left its lock behind; the restart takes it over (its process is gone).
      const svc = await startTestService({ dir });
      try {
        expectNothingAcknowledgedLost(run.sent, await storedByCommand(svc));
      } finally {
        await svc.close();
      }
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
