import type { Command } from 'commander';
import { z } from 'zod';
import { Identifier } from '../../../domain/crypto/credential.ts';
import { fromBase64url } from '../../../domain/crypto/base64url.ts';
import { validationError } from '../../../domain/errors.ts';
import { pemOf } from '../../../domain/x509/pem.ts';
import type { Io } from '../../io.ts';
import { EXIT, handler, parseOptions } from '../../program.ts';
import { deviceDir, Ids, withDevice } from './folder-option.ts';
import { readState } from './state.ts';

/**
 * `credence device certificate [--credential ID]`: the X.509 certificate a credential of the device holds, as PEM on
 * stdout, for a relying party's tools (`openssl verify -crl_check`, `openssl ocsp`: docs/pki.md). `device.json`
 * keeps it as base64url DER inside the credential's descriptor, which no such tool reads. Like `status`, it reads
 * `device.json` alone (public data: the certificate, never a key).
 */
export const registerCertificate = (device: Command, io: Io): void => {
  const Options = z.object({ ...Ids, credential: Identifier.optional() });
  withDevice(device.command('certificate'))
    .description("a credential's X.509 certificate as PEM on stdout (the only certified credential when --credential is not given)")
    .option('--credential <id>', 'the credential whose certificate to print')
    .action(
      handler(io, async (raw: Record<string, unknown>, command: Command) => {
        const o = parseOptions(command, Options, raw);
        const state = readState(deviceDir(o));
        const certified = state.credentials.flatMap((c) =>
          c.descriptor.kind !== 'psk256' && c.descriptor.certificate !== undefined ? [{ credentialId: c.credentialId, der: c.descriptor.certificate }] : [],
        );
        const refuse = (rule: string, message: string) => validationError([{ path: 'credential', rule, message }], 'device certificate');
        const chosen = o.credential === undefined ? certified : certified.filter((c) => c.credentialId === o.credential);
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
