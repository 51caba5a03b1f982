import { InvalidArgumentError, Option, type Command } from 'commander';
import { z } from 'zod';
import { CredentialKind, Identifier } from '../../domain/crypto/credential.ts';
import { CommandProfile } from '../../domain/commands/index.ts';
import { AssociationId, CredentialId, NodeId } from '../../domain/ids.ts';
import { EXIT, handler, parseOptions, UsageError, type RegisterCommands } from '../program.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { PathArg, serverTarget, withJson, type ServerTarget } from './options.ts';
import { registerCertificate } from './device/certificate.ts';
import { deviceDir, Ids, mustBeTheNode, withDevice } from './device/folder-option.ts';
import { Duration } from './device/duration.ts';
import { registerFleet } from './device/fleet-command.ts';
import { deviceServer, hasToken, Server, withServerUrl, withToken } from './device/server-options.ts';
import { sayOnStderr, type SayOnStderr } from './device/folder-lock.ts';
import { openDevice, type SimulatedDevice } from './device/simulator.ts';
import { hasState, readState, stateFile, type DeviceState } from './device/state.ts';
import { associate, provision, type OperatorTarget } from './device/steps.ts';
import { factory } from './device/factory.ts';
import { withSigner } from './device/signed-target.ts';
import { SigningOptions, signingOptionIssues, withSigningOptions } from './submit.ts';

/**
 * `credence device`: a device simulator with its own Secure Environment folder (default ./device-<node id>), which
 * speaks to a server the way a real device would. `init` is the factory (operator API, with a token); `provision`
 * and `associate` run the protocols over the device routes (no token: the device authenticates inside them).
 */

const PSK_BOOTSTRAP =
  'a factory PSK bootstrap must be placed in the device and at the Enrolment Function at once (pre-provisioning, ' +
  'seed 003 11.2.1 scenario 1), which needs a Secure Environment both share; over HTTP they share none. Use an ed25519 ' +
  'or p256 bootstrap: a PSK service credential can still be provisioned remotely (device provision --kind psk256).';

/**
 * The bootstrap kinds `device init` refuses, with why: the one source of the kinds it offers (every other), so its
 * choices, its help and its "one of" never name a kind it then refuses (found in review: psk256 was offered).
 */
const REFUSED_BOOTSTRAP = { psk256: PSK_BOOTSTRAP } as const satisfies Partial<Record<CredentialKind, string>>;
const BootstrapKind = CredentialKind.exclude(Object.keys(REFUSED_BOOTSTRAP) as (keyof typeof REFUSED_BOOTSTRAP)[]);

/** `--kind`, one of `kinds`; a kind of `refused` is refused with its reason rather than as an unknown word. */
const kindOption = (kinds: readonly string[], what: string, refused: Readonly<Record<string, string>> = {}) => {
  const option = new Option('--kind <kind>', what).choices(kinds).makeOptionMandatory();
  const oneOf = option.parseArg!;
  return option.argParser((value: string, previous: unknown) => {
    if (Object.hasOwn(refused, value)) throw new InvalidArgumentError(refused[value]!);
    return oneOf(value, previous);
  });
};

/**
 * Runs `work` on the device of `dir`, its folder locked from opening to closing (refused at once while another
 * command holds it), closing its Secure Environment and letting go of the lock whatever happens; the temps of
 * interrupted writes the lock's sweep removed are said through `say`.
 */
const onDevice = async <T>(dir: string, say: SayOnStderr, work: (sim: SimulatedDevice) => Promise<T>): Promise<T> => {
  const sim = openDevice(dir, say);
  try {
    return await work(sim);
  } finally {
    sim.close();
  }
};

/**
 * `<node id>-bootstrap`, held to the engine's credential id rule: a node id near the length bound passed, a key was
 * made, and the registration was refused over this derived id (review 302). Bad usage naming both options instead.
 */
const defaultBootstrapId = (nodeId: string): string => {
  const id = `${nodeId}-bootstrap`;
  const parsed = CredentialId.safeParse(id);
  if (parsed.success) return parsed.data;
  throw new UsageError(`--node-id: the default bootstrap id ${id} is refused (${parsed.error.issues[0]?.message ?? 'not a credential id'}): give a shorter --node-id, or a --bootstrap-id`);
};

const registerInit = (device: Command, io: Io): void => {
  const Options = z.object({
    ...Ids,
    // The engine's id rules, not the looser Identifier: a node id or bootstrap id the server would refuse is bad usage
    // naming its option before a key is made (review 302: `a@b` was the server's 400 naming none).
    nodeId: NodeId,
    kind: BootstrapKind,
    bootstrapId: CredentialId.optional(),
    // The profile's own rules (visible text, bounds, each capability once), so a refused profile is bad usage before
    // the bootstrap key is made, not the server's 400 after it.
    class: CommandProfile.shape.class,
    model: CommandProfile.shape.model,
    manufacturer: CommandProfile.shape.manufacturer,
    capability: CommandProfile.shape.capabilities,
    validFor: Duration,
    ...Server,
    token: z.string().optional(),
    tokenFile: PathArg.optional(),
    json: z.boolean().optional(),
    ...SigningOptions,
  }).superRefine(signingOptionIssues);
  withSigningOptions(withJson(withToken(withServerUrl(withDevice(device.command('init'))), 'to register the node')))
    .description('the factory step: generate the bootstrap key in the device, register the node and its bootstrap credential (operator API)')
    .addOption(kindOption(BootstrapKind.options, `the bootstrap key kind (${Object.keys(REFUSED_BOOTSTRAP).join(', ')} is refused over HTTP)`, REFUSED_BOOTSTRAP))
    .option('--bootstrap-id <id>', 'the bootstrap credential id (default: <node id>-bootstrap)')
    .option('--class <class>', 'node profile: class', 'smart-meter')
    .option('--model <model>', 'node profile: model', 'SIM-1')
    .option('--manufacturer <name>', 'node profile: manufacturer', 'Credence Simulator')
    .option('--capability <capability...>', 'node profile: capabilities', ['metering'])
    .option('--valid-for <duration>', 'bootstrap credential validity with its unit, s, m, h, d or y, e.g. 5y or 1825d', '5y')
    .action(
      handler(io, async (raw: Record<string, unknown>, command: Command) => {
        const o = parseOptions(command, Options, raw);
        const bootstrapCredentialId = o.bootstrapId ?? defaultBootstrapId(o.nodeId);
        const target = serverTarget(o, io);
        const dir = deviceDir(o);
        // A folder is one device for its whole life: a second init would mean a second bootstrap key beside the first.
        if (hasState(dir)) throw new UsageError(`--dir: ${dir} already holds a device (${stateFile(dir)}); choose a new folder, or use device status to see it`);
        // A rerun re-signs the same commands under the same ids: the server answers a repeat by its actor, type and
        // data (adapters/engine/idempotency.ts), not by its signature, so a new issuedAt makes no other command.
        const state = await withSigner(target, o, (signed) => factory(signed, {
          dir, nodeId: o.nodeId, kind: o.kind, bootstrapCredentialId, validForSeconds: o.validFor,
          profile: { class: o.class, model: o.model, manufacturer: o.manufacturer, capabilities: o.capability },
        }, () => io.err(printable(`note: device init of ${o.nodeId} did not finish and its outcome is not known (or the token was refused); its bootstrap key is kept in ${dir}: run the same command again to finish it`)), sayOnStderr(io, 'init')));
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
        let nodeId = '';
        const outcome = await onDevice(deviceDir(o), sayOnStderr(io, 'provision'), (sim) => {
          mustBeTheNode(o, sim.dir, sim.state);
          nodeId = sim.state.nodeId;
          return provision(server, sim, { credentialId: o.credentialId, kind: o.kind, predecessorId: o.predecessorId, checkWith });
        });
        if (o.json === true) io.out(json(outcome));
        else if (outcome.type === 'provisioning.adopted') io.out(printable(`node ${nodeId}: credential ${outcome.credentialId} adopted: ${outcome.kind} ${outcome.fingerprint} (recorded by the server in an earlier run)`));
        else io.out(printable(`node ${nodeId}: credential ${outcome.credentialId} provisioned: ${outcome.kind} ${outcome.fingerprint} (the server says: event position ${outcome.serverPosition})`));
        // Adopted, but not as the first run's answer would have left it: said, and not a success, as fleet says a step
        // left undone.
        if (outcome.type === 'provisioning.adopted' && outcome.certificate === 'missing') {
          if (o.json !== true) io.err(printable(`note: ${outcome.certificateMissing}`));
          return outcome.unreachable ? EXIT.unreachable : EXIT.refused;
        }
        return EXIT.done;
      }),
    );
};

const registerAssociate = (device: Command, io: Io): void => {
  const Options = z.object({
    ...Ids,
    // The engine's id rule, as provision's --credential-id: the loose Identifier let `../../enrolment/x` run a whole
    // handshake to a refusal, and put ids a shell reads otherwise in the hints' commands (review 365).
    associationId: AssociationId,
    credentialId: Identifier,
    lifetime: Duration,
    ...Server,
    token: z.string().optional(),
    tokenFile: PathArg.optional(),
    json: z.boolean().optional(),
    ...SigningOptions,
  }).superRefine(signingOptionIssues);
  withSigningOptions(withJson(withToken(withServerUrl(withDevice(device.command('associate'))), 'to configure the association first')))
    .description('the association handshake with the Registrar CSE for an association an operator configured (with a token, configures it first)')
    .requiredOption('--association-id <id>', 'the association (configured with configureAssociation)')
    .requiredOption('--credential-id <id>', 'the credential of this device it authenticates with')
    .option('--lifetime <duration>', 'the lifetime asked for with its unit, s, m, h, d or y, e.g. 90d (the Registrar cuts it to the credential)', '90d')
    .action(
      handler(io, async (raw: Record<string, unknown>, command: Command) => {
        const o = parseOptions(command, Options, raw);
        const server = deviceServer(o, io);
        // With a token (any of its three sources), the association is configured first; without one, only the
        // handshake.
        const configureWith: ServerTarget | undefined = hasToken(o, io)
          ? serverTarget({ server: server.url, token: o.token, tokenFile: o.tokenFile, timeout: o.timeout }, io)
          : undefined;
        if (configureWith === undefined && o.signKey !== undefined) {
          throw new UsageError('--sign-key: only with an operator token (--token-file, --token or CREDENCE_TOKEN): without one, no operator command is sent to sign');
        }
        // The folder judged before anything is signed or sent.
        const dir = deviceDir(o);
        let nodeId = '';
        const handshake = (signed: OperatorTarget | undefined) =>
          onDevice(dir, sayOnStderr(io, 'associate'), (sim) => {
            mustBeTheNode(o, sim.dir, sim.state);
            nodeId = sim.state.nodeId;
            return associate(server, sim, { associationId: o.associationId, credentialId: o.credentialId, lifetimeSeconds: o.lifetime, configureWith: signed });
          });
        const outcome = configureWith === undefined ? await handshake(undefined) : await withSigner(configureWith, o, handshake);
        const shown = { associationId: o.associationId, registrarId: outcome.registrarId, registreeId: outcome.registreeId, lifetimeSeconds: outcome.lifetimeSeconds, expiresAt: outcome.expiresAt, transcriptHash: outcome.transcriptHash };
        if (o.json === true) io.out(json(shown));
        else io.out(printable(`node ${nodeId}: association ${o.associationId} established with ${outcome.registrarId} until ${outcome.expiresAt} (${outcome.lifetimeSeconds} s)`));
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
        const dir = deviceDir(o);
        const state = readState(dir);
        mustBeTheNode(o, dir, state);
        const view = publicView(state);
        if (o.json === true) {
          io.out(json(view));
          return EXIT.done;
        }
        const now = Date.now();
        io.out(printable(`node ${view.nodeId}${view.cseId !== undefined ? ` (CSE-ID ${view.cseId})` : ' (not provisioned yet)'}`));
        io.out(printable(`bootstrap ${view.bootstrap.credentialId}: ${view.bootstrap.kind} ${view.bootstrap.fingerprint}, valid until ${view.bootstrap.validity.notAfter}`));
        // The fingerprints an operator compares out of band (docs/service.md "What a device pins"; review 302).
        io.out(printable(`pinned: Enrolment Function ${view.pinned.enrolmentFunction.id} (${view.pinned.enrolmentFunction.fingerprint}), Registrar CSE ${view.pinned.registrar.id} (${view.pinned.registrar.fingerprint})`));
        for (const c of view.credentials) io.out(printable(`credential ${c.credentialId}: ${c.kind} ${c.fingerprint}, valid until ${c.validity.notAfter}`));
        for (const a of view.associations) io.out(printable(`association ${a.associationId} (${a.credentialId}) with ${a.registrarId}: ${Date.parse(a.expiresAt) > now ? 'until' : 'expired'} ${a.expiresAt}`));
        return EXIT.done;
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
