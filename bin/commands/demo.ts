import { join } from 'node:path';
import { caIds } from '../../adapters/driven/pki/index.ts';
import { ProblemResponse } from '../../adapters/client/http.ts';
import { operatorClient } from '../../adapters/client/operator.ts';
import type { RunningService, ServiceConfig } from '../../adapters/http/index.ts';
import { assertCertifiableUrl } from '../../adapters/http/certifiable-url.ts';
import { assertPublishableHost, listeningUrl } from '../../adapters/http/public-url.ts';
import { StoppedBeforeServing } from '../../adapters/http/stopped-before-serving.ts';
import { isCredenceError } from '../../domain/errors.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { shellWord } from '../shell-word.ts';
import { printOneTimeValue } from '../one-time-output.ts';
import { namingRefusedWritesIn, writePlacesOfStart } from '../write-failure.ts';
import { accessLines, issueLocalTokens, revokeLocalTokens, withShortLivedToken } from './demo/access.ts';
import { createDemoCa, DEMO_CA_ID, needsDemoCa } from './demo/ca.ts';
import { COMPROMISED } from './demo/fleet.ts';
import { runScenario } from './demo/scenario.ts';
import { certificatesUrlElsewhere, servedAgainAt, startCommandServing } from './demo/served-again-at.ts';
import { storeIsEmpty } from './demo/store-empty.ts';
import { stopWhenParentEnds } from './demo/parent-watch.ts';
import { absorbEchoedSignals } from './demo/signals.ts';
import { unusableDataFolderAsUsage } from './folder-lock.ts';
import { fleetSummary } from './demo/summary.ts';

/**
 * What `credence demo` suggests next, each command whole on a line of its own with the folder it ran on, to be pasted as
 * it is (review 173: one line of commands joined by commas, the later ones without `npx credence`). `again` holds the
 * flags that serve the folder at the URL its certificates name (servedAgainAt).
 */
export const nextSteps = (data: string, again: string): string[] => {
  const folder = shellWord(data);
  return [
    'Next, to look at the fleet:',
    `  npx credence replay --data ${folder}`,
    `  npx credence history node-${COMPROMISED} --data ${folder}`,
    `  npx credence verify --data ${folder}`,
    'or to serve it:',
    `  ${startCommandServing(data, again)}`,
  ];
};

export interface StartRequest {
  readonly config: ServiceConfig;
  /** `credence start` (npm start) serves until a signal; `credence demo` stops once the fleet is shown. */
  readonly keepServing: boolean;
  /** Where the service's JSON log lines go (default stderr: stdout is for the person at the terminal). */
  readonly logStream?: NodeJS.WritableStream;
}

/**
 * The service's refusals of its public URL that hang on its issuing CAs (adapters/http/start.ts, before it listens): a
 * wildcard host without a public URL, a public URL naming a wildcard address, a default URL certificates cannot carry.
 */
const refusePublicUrl = (config: ServiceConfig, caCount: number): void => {
  assertPublishableHost(config.host, config.publicUrl, caCount);
  assertCertifiableUrl(config.publicUrl ?? listeningUrl(config.host, config.port), config.publicUrl !== undefined, caCount);
};

/** Whether the service, once it has an issuing CA, refuses this host and public URL. */
const refusedWithCa = (config: ServiceConfig): boolean => {
  try {
    refusePublicUrl(config, 1);
    return false;
  } catch (error) {
    if (isCredenceError(error, 'validation')) return true;
    throw error;
  }
};

/**
 * The service's refusals of its public URL (refusePublicUrl), made before anything is: review 49 found `credence demo
 * --host 0.0.0.0` refused only once the demo CA, the Secure Environment, access.db and the rest were in the folder, and
 * the review of that fix the same on a store that exists but is empty and on an external store. A folder without an
 * issuing CA gets the demo's on an empty store, so the store is read for that (only when a refusal hangs on it) before
 * the service opens it. Refused here, a fresh folder is not made and an existing one (or the external store) is left as
 * it was.
 */
export const refuseUnpublishableHost = async (config: ServiceConfig): Promise<void> => {
  const cas = caIds(config.data).length;
  if (cas > 0) return refusePublicUrl(config, cas);
  if (refusedWithCa(config) && (await storeIsEmpty(config))) refusePublicUrl(config, 1);
};

/**
 * `io` whose every stdout line goes through printable (review 373 item 3): the config takes format characters in
 * `data` and `host` (only controls are refused), and `credence demo --data '…/demo-\u202egnp.exe'` printed the folder
 * raw in five lines, and in every path the fleet's devices were made under, where serve's banner escapes it.
 */
const printing = (io: Io): Io => ({ ...io, out: (line) => io.out(printable(line)) });

/**
 * A write the system refused (a full disk) said naming where, as token and export say it: the data folder, or the
 * store's folder elsewhere (CREDENCE_STORE), the witness, the KEK file where it can be told (review 377 item 1).
 */
const namingTheFolder = <T>(config: ServiceConfig, run: () => Promise<T>): Promise<T> => namingRefusedWritesIn(writePlacesOfStart(config), run);

/** The demo, on an empty store only: every step through the running server. Returns false when a shutdown cut it short. */
const runDemo = async (service: RunningService, config: ServiceConfig, io: Io): Promise<boolean> => {
  const started = performance.now();
  io.out(`The store in ${config.data} is empty: the demo fleet runs first, through this server on the wall clock.`);
  // Aborted as soon as the service begins to shut down (Ctrl-C), before it stops answering.
  const stopped = service.context.shutdown;
  try {
    await namingTheFolder(config, () =>
      withShortLivedToken(service.context.access, { subject: 'operator:demo', role: 'operator' }, (token) =>
        runScenario({ operator: { url: service.url, token }, devicesDir: join(config.data, 'devices'), say: (l) => io.out(`  ${l}`), signal: stopped }),
      ),
    );
  } catch (error) {
    // A Ctrl-C during the demo: whatever failed after it failed because of it.
    if (!stopped.aborted) throw error;
    io.out(`Stopped during the demo: ${config.data} keeps what was done (delete it to run the demo again).`);
    return false;
  }
  io.out(`  demo done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return true;
};

/**
 * The CLI example: the compromised meter's history when the demo made it, else the fleet's replay. The token goes in
 * the environment (CREDENCE_TOKEN), never the command line, where any local user reads it with ps. Asked of this
 * process's own server (`url`), shown at the URL a person uses (`shownUrl`).
 */
const cliExample = async (url: string, shownUrl: string, auditor: string): Promise<string> => {
  const base = `--server ${shownUrl}`;
  try {
    await operatorClient(url, auditor).entity('node', COMPROMISED);
    return `CREDENCE_TOKEN="$AUDITOR_TOKEN" npx credence history node-${COMPROMISED} ${base}`;
  } catch (error) {
    if (!(error instanceof ProblemResponse && error.status === 404)) throw error;
    return `CREDENCE_TOKEN="$AUDITOR_TOKEN" npx credence replay ${base}`;
  }
};

/**
 * A Ctrl-C (SIGINT, SIGTERM) while no service of `credence start` runs to stop on it: between its two starts, while
 * the demo CA is made. absorbEchoedSignals takes the first signal for one the service has heard, and would swallow it
 * (review 49: the demo then ran and served until a second Ctrl-C); this one has the start-up stop instead, once the
 * CA being made is whole.
 */
const heardSignal = (): { readonly heard: boolean; stop(): void } => {
  let heard = false;
  const onSignal = (): void => {
    heard = true;
  };
  for (const name of ['SIGINT', 'SIGTERM'] as const) process.on(name, onSignal);
  return {
    get heard() {
      return heard;
    },
    stop: () => {
      for (const name of ['SIGINT', 'SIGTERM'] as const) process.off(name, onSignal);
    },
  };
};

/** Where start and demo take a store from, named when its folder is another process's: they have no --store, no --config. */
const STORE_SETTING = 'env CREDENCE_STORE';

/** A Ctrl-C (SIGINT, SIGTERM) while a start caught up, before it served: stopped as asked (exit 0). Anything else as it was. */
const stoppedBeforeServing = (error: unknown, io: Io): number => {
  if (!(error instanceof StoppedBeforeServing)) throw error;
  io.out(`Credence stopped before it served (${error.signal}).`);
  return 0;
};

/**
 * `npm start` (`credence start`): `credence serve` on the data folder; on an empty store the demo fleet first,
 * through the running server; then where the fleet stands, the URL, a local operator and auditor token, and two
 * commands to try, and it serves until Ctrl-C. `credence demo` runs the same and stops after the fleet.
 */
export const start = async (request: StartRequest, terminal: Io): Promise<number> => {
  const { config, keepServing } = request;
  const io = printing(terminal);
  // Loaded here: the rest of the CLI needs none of Fastify.
  const { startService, DOCS_PREFIX } = await import('../../adapters/http/index.ts');
  // A port in use or not permitted is bad usage (exit 2), said plainly by runAction (bin/program.ts).
  // A data path that cannot be a folder is bad usage too (exit 2), as for credence serve.
  // A write the system refused while the service makes the folder is said naming it (review 373 item 3).
  const open = () =>
    namingTheFolder(config, () => startService(config, { handleSignals: keepServing, logStream: request.logStream ?? process.stderr, storeSetting: STORE_SETTING })).catch((error: unknown) => {
      throw unusableDataFolderAsUsage(error);
    });
  // Undefined between two starts: an error of the second start is never read as a shutdown of the first (review 46:
  // the closed first service's aborted signal swallowed the second start's refusal, exit 0 and no reason).
  let service: RunningService | undefined;
  try {
    service = await open();
  } catch (error) {
    return stoppedBeforeServing(error, io);
  }
  const stopAbsorbing = keepServing ? absorbEchoedSignals() : async () => {};
  const stopWatching = keepServing ? stopWhenParentEnds(() => service?.context.shutdown.aborted === true) : () => {};
  try {
    const empty = (await service.context.credence.store.headPosition()) === undefined;
    if (empty && needsDemoCa(config)) {
      // Heard from before the line is printed until the second start is up: its handlers are not there yet.
      const signal = keepServing ? heardSignal() : undefined;
      try {
        // The service loads its CAs when it starts and holds the folder's lock: the CA is made between two starts.
        io.out(`The store in ${config.data} is empty and has no issuing CA: one is made first, as an operator would.`);
        await service.close();
        service = undefined;
        await namingTheFolder(config, () => createDemoCa(config, io));
        if (signal?.heard !== true) service = await open();
        if (service === undefined || signal?.heard === true) {
          io.out(`Credence stopped before the demo; ${config.data} keeps its issuing CA (npm start runs the demo on it).`);
          return 0;
        }
      } finally {
        signal?.stop();
      }
    }
    const running: RunningService = service;
    const { access } = running.context;
    if (empty) {
      if (!(await runDemo(running, config, io))) return 0;
    } else {
      // `credence demo` does not resume serving it (review 136): it shows the fleet and stops.
      io.out(
        keepServing
          ? `The store in ${config.data} already holds events: resuming, no demo this time (delete the folder to run it again).`
          : `The store in ${config.data} already holds events: no demo this time, only where its fleet stands (delete the folder to run the demo again).`,
      );
    }
    if (!keepServing) {
      const summary = await withShortLivedToken(access, { subject: 'auditor:demo', role: 'auditor' }, (token) => fleetSummary({ url: running.url, token }));
      for (const line of ['', ...summary, '']) io.out(line);
      const again = servedAgainAt(config, running.url, await certificatesUrlElsewhere(running.context));
      for (const line of nextSteps(config.data, again)) io.out(line);
      return 0;
    }
    const tokens = await issueLocalTokens(access);
    const summary = await fleetSummary({ url: running.url, token: tokens.auditor });
    // The public URL where one is given (README: the container case): the address listened on (0.0.0.0 there) names
    // no one's machine (found in review). That address is named too, for whoever checks what is bound.
    const shown = config.publicUrl?.replace(/\/+$/, '') ?? running.url;
    const listening = shown === running.url ? undefined : running.url;
    const example = await cliExample(running.url, shown, tokens.auditor);
    const crlUrl = running.context.pki?.cas.some((ca) => ca.id === DEMO_CA_ID) ? `${shown}/pki/${DEMO_CA_ID}/crl` : undefined;
    // The start that serves the certificates' URL again, the one the start's warning names when it is not this one's.
    const resume = startCommandServing(config.data, servedAgainAt(config, running.url, await certificatesUrlElsewhere(running.context)));
    const lines = accessLines({ url: shown, listening, docsUrl: `${shown}${DOCS_PREFIX}`, data: config.data, tokens, example, crlUrl, resume });
    // The tokens' only copy, in one write: where it is not written out (stdout closed, a reader gone, a full disk;
    // review 81), nobody holds them, and they are revoked at once, as `token create` revokes its token.
    // Each line through printable here: the one write goes to the terminal's own Io, whose delivery says if it arrived.
    await printOneTimeValue(terminal, ['', ...summary, '', ...lines].map(printable).join('\n'), {
      undo: async () => revokeLocalTokens(access, tokens),
      undone: `revoked the local tokens of this start (${tokens.tokenIds.join(', ')}): they were issued, but could not be written out, so nobody holds them`,
      notUndone: (why) =>
        `error: the local tokens of this start (${tokens.tokenIds.join(', ')}) were issued but could not be written out, and revoking them failed (${why}): ` +
        `revoke them: ${tokens.tokenIds.map((tokenId) => `credence token revoke ${tokenId} --data ${config.data}`).join('; ')}`,
    });
    await running.closed;
    io.out(`Credence stopped; ${config.data} keeps everything.`);
    return 0;
  } catch (error) {
    if (service === undefined) return stoppedBeforeServing(error, io);
    // A Ctrl-C while it was still printing: the calls it made to its own server failed because of it. Only a running
    // service's shutdown says so: none runs while the CA is made or the second start is refused.
    if (!service.context.shutdown.aborted) throw error;
    io.out(`Credence stopped; ${config.data} keeps everything.`);
    return 0;
  } finally {
    stopWatching();
    await service?.close();
    await stopAbsorbing();
  }
};
