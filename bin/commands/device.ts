import { DecimalNumber, WholeNumber } from '../../domain/whole-number.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { Identifier } from '../../domain/crypto/credential.ts';
import { CredentialId } from '../../domain/ids.ts';
import { preparePrivateDir } from '../../adapters/driven/files/index.ts';
import { EXIT, handler, parseOptions, UsageError, type RegisterCommands } from '../program.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { renderProgress } from '../progress.ts';
import { DEFAULT_TIMEOUT_MS } from '../../adapters/client/http.ts';
import { PathArg, progressStream, ServerUrl, serverTarget, withJson, type ServerTarget } from './options.ts';
import { registerCertificate } from './device/certificate.ts';
import { deviceDir, Ids, withDevice } from './device/folder-option.ts';
import { Duration } from './device/duration.ts';
import { runFleet, type FleetSummary } from './device/fleet.ts';
import { openDevice, type SimulatedDevice } from './device/simulator.ts';
import { hasState, readState, stateFile, type DeviceState } from './device/state.ts';
import { associate, provision, type DeviceServer } from './device/steps.ts';
import { factory } from './device/factory.ts';

/**
 * `credence device`: a device simulator with its own Secure Environment folder (default ./device-<node id>), which
 * speaks to a server the way a real device would. `init` is the factory (operator API, with a token); `provision`
 * and `associate` run the protocols over the device routes (no token: the device authenticates inside them).
 */

const PSK_BOOTSTRAP =
  'a factory PSK bootstrap must be placed in the device and at the Enrolment Function at once (pre-provisioning, ' +
  'seed 003 11.2.1 scenario 1), which needs a Secure Environment both share; over HTTP they share none. Use an ed25519 ' +
  'or p256 bootstrap: a PSK service credential can still be provisioned remotely (device provision --kind psk256).';

const envOf = (io: Io) => io.env ?? process.env;

/** The server of the device routes: --server or CREDENCE_URL (no token needed). */
const serverUrl = (opts: { server?: string | undefined }, io: Io): string => {
  const url = opts.server ?? envOf(io)['CREDENCE_URL'];
  if (url === undefined || url === '') throw new UsageError('--server: required (or set CREDENCE_URL)');
  if (!ServerUrl.safeParse(url).success) throw new UsageError('--server: must be an http:// or https:// URL');
  return url;
};

/** Seconds to wait for an answer, as every command that talks to a server takes them (options.ts serverTarget). */
const TimeoutSeconds = DecimalNumber(86_400);

/**
 * The device routes' server and timeout: --server or CREDENCE_URL (no token needed), --timeout or CREDENCE_TIMEOUT
 * (read as serverTarget reads them, which the commands with a token use).
 */
const deviceServer = (opts: { server?: string | undefined; timeout?: string | undefined }, io: Io): DeviceServer => {
  const url = serverUrl(opts, io);
  const from = opts.timeout !== undefined ? '--timeout' : 'CREDENCE_TIMEOUT';
  const text = opts.timeout ?? envOf(io)['CREDENCE_TIMEOUT'];
  if (text === undefined || text === '') return { url };
  const seconds = TimeoutSeconds.safeParse(text);
  if (!seconds.success) throw new UsageError(`${from}: must be a number of seconds, more than 0 and at most 86400`);
  return { url, timeoutMs: Math.ceil(seconds.data * 1000) };
};

/** The server, and how long to wait for each of its answers: the same --timeout as every command that talks to a server. */
const withServerUrl = (command: Command): Command =>
  command
    .option('--server <url>', 'the Credence server (env: CREDENCE_URL)')
    .option('--timeout <seconds>', `how long to wait for each answer of the server (env: CREDENCE_TIMEOUT; default ${DEFAULT_TIMEOUT_MS / 1000})`);
/** The operator token, as every command that talks to a server takes it: --token (seen in ps), --token-file, CREDENCE_TOKEN. */
const withToken = (command: Command, what: string): Command =>
  command
    .option('--token <token>', `operator bearer token, ${what} (env: CREDENCE_TOKEN); shows in ps and shell history, prefer --token-file`)
    .option('--token-file <file>', 'read the operator bearer token from this file (surrounding whitespace trimmed) instead of --token');

const kindOption = (kinds: readonly string[], what: string) => new Option('--kind <kind>', what).choices(kinds).makeOptionMandatory();

/**
 * Runs `work` on the device of `dir`, its folder locked from opening to closing (refused at once while another
 * command holds it), closing its Secure Environment and letting go of the lock whatever happens.
 */
const onDevice = async <T>(dir: string, work: (sim: SimulatedDevice) => Promise<T>): Promise<T> => {
  const sim = openDevice(dir);
  try {
    return await work(sim);
  } finally {
    sim.close();
  }
};

/** What withServerUrl adds; the timeout is checked in full by serverTarget or deviceServer, which also read the environment. */
const Server = { server: z.string().optional(), timeout: z.string().max(32).optional() };

const registerInit = (device: Command, io: Io): void => {
  const Options = z.object({
    ...Ids,
    nodeId: Identifier,
    kind: z.enum(['ed25519', 'p256', 'psk256']),
    bootstrapId: Identifier.optional(),
    class: z.string().min(1).max(100),
    model: z.string().min(1).max(100),
    manufacturer: z.string().min(1).max(100),
    capability: z.array(z.string().min(1).max(100)).max(32),
    validFor: Duration,
    ...Server,
    token: z.string().optional(),
    tokenFile: PathArg.optional(),
    json: z.boolean().optional(),
  });
  withJson(withToken(withServerUrl(withDevice(device.command('init'))), 'to register the node'))
    .description('the factory step: generate the bootstrap key in the device, register the node and its bootstrap credential (operator API)')
    .addOption(kindOption(['ed25519', 'p256', 'psk256'], 'the bootstrap key kind (psk256 is refused over HTTP)'))
    .option('--bootstrap-id <id>', 'the bootstrap credential id (default: <node id>-bootstrap)')
    .option('--class <class>', 'node profile: class', 'smart-meter')
    .option('--model <model>', 'node profile: model', 'SIM-1')
    .option('--manufacturer <name>', 'node profile: manufacturer', 'Credence Simulator')
    .option('--capability <capability...>', 'node profile: capabilities', ['metering'])
    .option('--valid-for <duration>', 'bootstrap credential validity, e.g. 5y or 1825d', '5y')
    .action(
      handler(io, async (raw: Record<string, unknown>, command: Command) => {
        const o = parseOptions(command, Options, raw);
        if (o.kind === 'psk256') throw new UsageError(`--kind psk256: ${PSK_BOOTSTRAP}`);
        const target = serverTarget(o, io);
        const dir = deviceDir(o);
        // A folder is one device for its whole life: a second init would mean a second bootstrap key beside the first.
        if (hasState(dir)) throw new UsageError(`--dir: ${dir} already holds a device (${stateFile(dir)}); choose a new folder, or use device status to see it`);
        const state = await factory(target, {
          dir, nodeId: o.nodeId, kind: o.kind, bootstrapCredentialId: o.bootstrapId ?? `${o.nodeId}-bootstrap`, validForSeconds: o.validFor,
          profile: { class: o.class, model: o.model, manufacturer: o.manufacturer, capabilities: o.capability },
        }, () => io.err(printable(`note: device init of ${o.nodeId} did not finish and its outcome is not known (or the token was refused); its bootstrap key is kept in ${dir}: run the same command again to finish it`)));
        if (o.json === true) io.out(json({ dir, ...publicView(state) }));
        else {
          io.out(printable(`device ${state.nodeId} initialised in ${dir}`));
          io.out(printable(`  bootstrap ${state.bootstrap.credentialId}: ${state.bootstrap.descriptor.kind} ${state.bootstrap.descriptor.fingerprint}`));
          io.out(printable(`  pinned Enrolment Function ${state.pinned.enrolmentFunction.id} (${state.pinned.enrolmentFunction.fingerprint})`));
          io.out(printable(`  pinned Registrar CSE ${state.pinned.registrar.id} (${state.pinned.registrar.fingerprint})`));
        }
        return EXIT.done;
      }),
    );
};

const registerProvision = (device: Command, io: Io): void => {
  const Options = z.object({
    ...Ids,
    // The engine's id rule, not the hello's looser one: the server refuses any other at the hello; said here first.
    credentialId: CredentialId,
    kind: z.enum(['ed25519', 'p256', 'psk256']),
    predecessorId: CredentialId.optional(),
    ...Server,
    token: z.string().optional(),
    tokenFile: PathArg.optional(),
    json: z.boolean().optional(),
  });
  withJson(withToken(withServerUrl(withDevice(device.command('provision'))), 'to check an unfinished earlier provision by its fingerprint'))
    .description('remote provisioning of a service credential through the Enrolment Function (device routes, no token); the node must be enrolled')
    .requiredOption('--credential-id <id>', 'the id the new credential is recorded under')
    .addOption(kindOption(['ed25519', 'p256', 'psk256'], 'the credential kind: a key pair made in the device, or a PSK delivered encrypted'))
    .option('--predecessor-id <id>', 'the live credential of this device the new one succeeds (rotation; the operator then starts the rotation)')
    .action(
      handler(io, async (raw: Record<string, unknown>, command: Command) => {
        const o = parseOptions(command, Options, raw);
        const server = deviceServer(o, io);
        // With a token (any of its three sources), a run an earlier provision left pending is checked on the server.
        const checkWith = hasToken(o, io) ? serverTarget({ server: server.url, token: o.token, tokenFile: o.tokenFile, timeout: o.timeout }, io) : undefined;
        const outcome = await onDevice(deviceDir(o), (sim) =>
          provision(server, sim, { credentialId: o.credentialId, kind: o.kind, predecessorId: o.predecessorId, checkWith }),
        );
        if (o.json === true) io.out(json(outcome));
        else if (outcome.type === 'provisioning.adopted') io.out(printable(`credential ${outcome.credentialId} adopted: ${outcome.kind} ${outcome.fingerprint} (recorded by the server in an earlier run)`));
        else io.out(printable(`credential ${outcome.credentialId} provisioned: ${outcome.kind} ${outcome.fingerprint} (event at position ${outcome.position})`));
        // Adopted, but not as the first run's answer would have left it: said, and not a success, as fleet says a step left undone.
        if (outcome.type === 'provisioning.adopted' && outcome.certificate === 'missing') {
          if (o.json !== true) io.err(printable(`note: ${outcome.certificateMissing}`));
          return outcome.unreachable ? EXIT.unreachable : EXIT.refused;
        }
        return EXIT.done;
      }),
    );
};

/** Whether an operator token was given, from any of its three sources. */
const hasToken = (o: { token?: string | undefined; tokenFile?: string | undefined }, io: Io): boolean =>
  o.token !== undefined || o.tokenFile !== undefined || (envOf(io)['CREDENCE_TOKEN'] ?? '') !== '';

const registerAssociate = (device: Command, io: Io): void => {
  const Options = z.object({
    ...Ids,
    associationId: Identifier,
    credentialId: Identifier,
    lifetime: Duration,
    ...Server,
    token: z.string().optional(),
    tokenFile: PathArg.optional(),
    json: z.boolean().optional(),
  });
  withJson(withToken(withServerUrl(withDevice(device.command('associate'))), 'to configure the association first'))
    .description('the association handshake with the Registrar CSE for an association an operator configured (with a token, configures it first)')
    .requiredOption('--association-id <id>', 'the association (configured with configureAssociation)')
    .requiredOption('--credential-id <id>', 'the credential of this device it authenticates with')
    .option('--lifetime <duration>', 'the lifetime asked for, e.g. 90d (the Registrar cuts it to the credential)', '90d')
    .action(
      handler(io, async (raw: Record<string, unknown>, command: Command) => {
        const o = parseOptions(command, Options, raw);
        const server = deviceServer(o, io);
        // With a token (any of its three sources), the association is configured first; without one, only the handshake.
        const configureWith: ServerTarget | undefined = hasToken(o, io)
          ? serverTarget({ server: server.url, token: o.token, tokenFile: o.tokenFile, timeout: o.timeout }, io)
          : undefined;
        const outcome = await onDevice(deviceDir(o), (sim) =>
          associate(server, sim, { associationId: o.associationId, credentialId: o.credentialId, lifetimeSeconds: o.lifetime, configureWith }),
        );
        const shown = { associationId: o.associationId, registrarId: outcome.registrarId, registreeId: outcome.registreeId, lifetimeSeconds: outcome.lifetimeSeconds, expiresAt: outcome.expiresAt, transcriptHash: outcome.transcriptHash };
        if (o.json === true) io.out(json(shown));
        else io.out(printable(`association ${o.associationId} established with ${outcome.registrarId} until ${outcome.expiresAt} (${outcome.lifetimeSeconds} s)`));
        return EXIT.done;
      }),
    );
};

/** What `status` shows: identities, public descriptions and handles; the state file holds nothing more. */
const publicView = (state: DeviceState) => ({
  nodeId: state.nodeId,
  cseId: state.cseId,
  bootstrap: { credentialId: state.bootstrap.credentialId, kind: state.bootstrap.descriptor.kind, fingerprint: state.bootstrap.descriptor.fingerprint, validity: state.bootstrap.descriptor.validity },
  pinned: state.pinned,
  credentials: state.credentials.map((c) => ({ credentialId: c.credentialId, kind: c.descriptor.kind, fingerprint: c.descriptor.fingerprint, validity: c.descriptor.validity })),
  associations: state.associations.map((a) => ({ associationId: a.associationId, credentialId: a.credentialId, registrarId: a.registrarId, registreeId: a.registreeId, establishedAt: a.establishedAt, expiresAt: a.expiresAt })),
});

const registerStatus = (device: Command, io: Io): void => {
  const Options = z.object({ ...Ids, json: z.boolean().optional() });
  withJson(withDevice(device.command('status')))
    .description('what the device holds: its identity, credentials, associations and pinned keys (never a secret)')
    .action(
      handler(io, async (raw: Record<string, unknown>, command: Command) => {
        const o = parseOptions(command, Options, raw);
        // Reads device.json alone, without the folder's lock or the Secure Environment: every command writes it whole
        // (atomic-write.ts), so status answers while another command holds the folder, with the state last saved.
        const view = publicView(readState(deviceDir(o)));
        if (o.json === true) {
          io.out(json(view));
          return EXIT.done;
        }
        const now = Date.now();
        io.out(printable(`node ${view.nodeId}${view.cseId !== undefined ? ` (CSE-ID ${view.cseId})` : ' (not provisioned yet)'}`));
        io.out(printable(`bootstrap ${view.bootstrap.credentialId}: ${view.bootstrap.kind} ${view.bootstrap.fingerprint}, valid until ${view.bootstrap.validity.notAfter}`));
        io.out(printable(`pinned: Enrolment Function ${view.pinned.enrolmentFunction.id}, Registrar CSE ${view.pinned.registrar.id}`));
        for (const c of view.credentials) io.out(printable(`credential ${c.credentialId}: ${c.kind} ${c.fingerprint}, valid until ${c.validity.notAfter}`));
        for (const a of view.associations) io.out(printable(`association ${a.associationId} (${a.credentialId}) with ${a.registrarId}: ${Date.parse(a.expiresAt) > now ? 'until' : 'expired'} ${a.expiresAt}`));
        return EXIT.done;
      }),
    );
};

/** The signals that end a CLI run from outside (Ctrl-C, a kill, the terminal closing). */
const ENDING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Removes `folder` when the run ends: at the returned call, or on a signal, after which the signal's default action
 * ends the process as it would have without this listener (the exit status says which signal).
 */
const removedOnSignal = (folder: string): (() => void) => {
  const remove = (): void => rmSync(folder, { recursive: true, force: true });
  const onSignal = (signal: NodeJS.Signals): void => {
    stop();
    remove();
    process.kill(process.pid, signal);
  };
  const stop = (): void => {
    for (const signal of ENDING_SIGNALS) process.off(signal, onSignal);
  };
  for (const signal of ENDING_SIGNALS) process.on(signal, onSignal);
  return () => {
    stop();
    remove();
  };
};

const registerFleet = (device: Command, io: Io): void => {
  const Options = z.object({
    count: WholeNumber(1, 100_000),
    concurrency: WholeNumber(1, 256),
    dir: z.string().min(1).max(4096).optional(),
    prefix: Identifier.refine((p) => p.length <= 200, 'at most 200 characters').optional(),
    lifetime: Duration,
    ...Server,
    token: z.string().optional(),
    tokenFile: PathArg.optional(),
    json: z.boolean().optional(),
  });
  withJson(withToken(withServerUrl(device.command('fleet')), 'to register, enrol and configure'))
    .description('N simulated devices against a server: factory, enrolment, remote provisioning and association for each')
    .requiredOption('--count <n>', 'how many devices')
    .option('--concurrency <n>', 'devices run at once', '4')
    .option('--dir <folder>', 'keep the devices in this folder (default: a temporary folder, removed at the end or on Ctrl-C)')
    .option('--prefix <prefix>', 'node ids are <prefix>-1 … <prefix>-N (default: fleet-<random>)')
    .option('--lifetime <duration>', 'association lifetime asked for', '30d')
    .action(
      handler(io, async (raw: Record<string, unknown>, command: Command) => {
        const o = parseOptions(command, Options, raw);
        const target = serverTarget(o, io);
        const root = o.dir !== undefined ? resolve(o.dir) : mkdtempSync(join(tmpdir(), 'credence-fleet-'));
        // The temporary devices hold private keys and KEKs: an interrupted run removes them too.
        const forget = o.dir === undefined ? removedOnSignal(root) : () => {};
        const prefix = o.prefix ?? `fleet-${Date.now().toString(36)}`;
        const stream = progressStream(io, o.json);
        let summary: FleetSummary;
        try {
          preparePrivateDir(root);
          summary = await runFleet(target, { count: o.count, concurrency: o.concurrency, root, prefix, lifetimeSeconds: o.lifetime }, (done) =>
            stream?.write(`\r${renderProgress(done, o.count, 'devices')}`),
          );
        } finally {
          stream?.write('\n');
          forget();
        }
        if (o.json === true) io.out(json({ prefix, ...(o.dir !== undefined ? { dir: root } : {}), ...summary }));
        else {
          io.out(printable(`${summary.count} devices (${prefix}): ${summary.initialised} initialised, ${summary.provisioned} provisioned, ${summary.associated} associated, ${summary.failed} failed`));
          io.out(printable(`${summary.seconds} s, ${summary.devicesPerSecond} devices/s`));
          for (const f of summary.failures) io.err(printable(`  ${f.nodeId} at ${f.step}: ${f.message}`));
        }
        if (summary.unreachable) return EXIT.unreachable;
        return summary.failed === 0 ? EXIT.done : EXIT.refused;
      }),
    );
};

export const register: RegisterCommands = (program, io) => {
  const device = program
    .command('device')
    .description('a device simulator with its own Secure Environment: factory init, remote provisioning and association over HTTP');
  registerInit(device, io);
  registerProvision(device, io);
  registerAssociate(device, io);
  registerStatus(device, io);
  registerCertificate(device, io);
  registerFleet(device, io);
};
