import type { Command } from 'commander';
import { z } from 'zod';
import { Identifier } from '../../../domain/crypto/credential.ts';
import { fromBase64url } from '../../../domain/crypto/base64url.ts';
import { validationError } from '../../../domain/errors.ts';
import { pemOf } from '../../../domain/x509/pem.ts';
import { fetchRecordedCertificate } from '../../../adapters/client/device/index.ts';
import type { Io } from '../../io.ts';
import { EXIT, handler, parseOptions } from '../../program.ts';
import { clientOf, PathArg, serverTarget, withServer } from '../options.ts';
import { deviceDir, Ids, mustBeTheNode, withDevice } from './folder-option.ts';
import { saveState } from './pending-provisioning.ts';
import { sayOnStderr } from './folder-lock.ts';
import { openDevice } from './simulator.ts';
import { destroyUnnamedKeys } from './unnamed-keys.ts';
import { readState, type DeviceState } from './state.ts';

/**
 * `credence device certificate [--credential ID]`: the X.509 certificate a credential of the device holds, as PEM on
 * stdout, for a relying party's tools (`openssl verify -crl_check`, `openssl ocsp`: docs/pki.md). `device.json`
 * keeps it as base64url DER inside the credential's descriptor, which no such tool reads. Like `status`, it reads
 * `device.json` alone, unlocked (public data: the certificate, never a key). A credential held without the certificate
 * the server recorded for it (one `device provision` adopted while the server could not give it) gets it from the
 * server with `--server` and an operator token: read back, checked and kept, under the folder's lock (docs/service.md,
 * "One command per device folder").
 */
export const registerCertificate = (device: Command, io: Io): void => {
  const Options = z.object({
    ...Ids, credential: Identifier.optional(),
    server: z.string().optional(), token: z.string().optional(), tokenFile: PathArg.optional(), timeout: z.string().max(32).optional(),
  });
  withServer(withDevice(device.command('certificate')))
    .description("a credential's X.509 certificate as PEM on stdout (the only certified credential when --credential is not given); with --server, one the device lacks is fetched and kept")
    .option('--credential <id>', 'the credential whose certificate to print')
    .action(
      handler(io, async (raw: Record<string, unknown>, command: Command) => {
        const o = parseOptions(command, Options, raw);
        const dir = deviceDir(o);
        const state = readState(dir);
        mustBeTheNode(o, dir, state);
        const refuse = (rule: string, message: string) => validationError([{ path: 'credential', rule, message }], 'device certificate');
        const asked = (c: DeviceState['credentials'][number]) => o.credential === undefined || c.credentialId === o.credential;
        const certified = state.credentials.flatMap((c) =>
          c.descriptor.kind !== 'psk256' && c.descriptor.certificate !== undefined ? [{ credentialId: c.credentialId, der: c.descriptor.certificate }] : [],
        );
        const chosen = certified.filter((c) => o.credential === undefined || c.credentialId === o.credential);
        const lacking = state.credentials.filter((c) => c.descriptor.kind !== 'psk256' && c.descriptor.certificate === undefined && asked(c));
        if (chosen.length === 0 && lacking.length === 1) {
          io.out(pemOf('CERTIFICATE', fromBase64url(await fetchAndKeep(dir, lacking[0]!.credentialId, o, io))).trimEnd());
          return EXIT.done;
        }
        if (chosen.length === 0) {
          throw o.credential === undefined
            ? refuse('certified', `device ${state.nodeId} holds no credential with a certificate`)
            : refuse('certified', `device ${state.nodeId} holds no credential ${o.credential} with a certificate${certified.length > 0 ? ` (certified: ${certified.map((c) => c.credentialId).join(', ')})` : ''}`);
        }
        if (chosen.length > 1) {
          throw refuse('one', `device ${state.nodeId} holds ${chosen.length} certified credentials: name one with --credential (${chosen.map((c) => c.credentialId).join(', ')})`);
        }
        io.out(pemOf('CERTIFICATE', fromBase64url(chosen[0]!.der)).trimEnd());
        return EXIT.done;
      }),
    );
};

type ServerOptions = { server?: string | undefined; token?: string | undefined; tokenFile?: string | undefined; timeout?: string | undefined };

/**
 * The certificate the server recorded for `credentialId`, which the device holds without one: fetched with the call
 * an adopting `device provision` makes (fetchRecordedCertificate, the same checks), kept in the state, its DER
 * returned. Without a server named the device cannot ask, and says how to.
 */
const fetchAndKeep = async (dir: string, credentialId: string, o: ServerOptions, io: Io): Promise<string> => {
  const refuse = (rule: string, message: string) => validationError([{ path: 'credential', rule, message }], 'device certificate');
  if (o.server === undefined && (io.env ?? process.env)['CREDENCE_URL'] === undefined) {
    // Conditional: a deployment with no issuing CA records none (review 183), and only the server can say.
    throw refuse('certified', `credential ${credentialId} is held without a certificate: if the server recorded one for it, give --server (or CREDENCE_URL) and an operator token to fetch it`);
  }
  const target = serverTarget(o, io);
  const sim = openDevice(dir, sayOnStderr(io, 'certificate'));
  try {
    await destroyUnnamedKeys(sim);
    const held = sim.device.credentials.get(credentialId);
    // Another command may have changed the state since it was read unlocked.
    if (held === undefined) throw refuse('held', `device ${sim.state.nodeId} no longer holds credential ${credentialId}`);
    const certified = await fetchRecordedCertificate(clientOf(target), credentialId, held.descriptor);
    if (certified?.kind === 'psk256' || certified?.certificate === undefined) {
      throw refuse('certified', `the server recorded no certificate for credential ${credentialId} (its deployment issues none)`);
    }
    sim.device.credentials.set(credentialId, { handle: held.handle, descriptor: certified });
    saveState(sim, sim.state, `the certificate of credential ${credentialId} is not kept: run device certificate again`);
    return certified.certificate;
  } finally {
    sim.close();
  }
};
