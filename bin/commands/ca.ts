import { WholeNumber } from '../../domain/whole-number.ts';
import { rmSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { MAX_CA_VALIDITY_DAYS } from '../../adapters/driven/pki/index.ts';
import { fromBase64url } from '../../domain/crypto/base64url.ts';
import { validationError } from '../../domain/errors.ts';
import { parseDistinguishedName } from '../../domain/x509/issuance/index.ts';
import { M2MSubId } from '../../domain/ids.ts';
import { CaId } from '../../domain/x509/issuing-ca.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { handler, parseOptions, type RegisterCommands } from '../program.ts';
import { assertNewFileWritable, readCertificates, writeNewFile } from './ca-files.ts';
import { pemOf } from '../../domain/x509/pem.ts';
import { caDataDir, describeCa, withCaFolder } from './ca-folder.ts';
import { caKeyStates } from './ca-keys.ts';

/**
 * `credence ca init|install|renew|show`: the data folder's issuing CAs (issue 13). A CA's key is generated in the Secure
 * Environment the service uses (owner `maf:infrastructure`) and never leaves it; `<data>/pki/<id>.ca.json` holds its
 * handle and certificates. `init` makes a self-signed root, or with `--intermediate` a key and a CSR for an external
 * root to sign, which `install` then installs after checking it. `renew` gives an active CA a later end with the same
 * key and subject: a root in place, an intermediate through a CSR its root signs and `install`. The service loads the
 * CAs when it starts.
 */

const DataOptions = {
  data: z.string().min(1).max(4096).optional(),
  config: z.string().min(1).max(4096).optional(),
  id: CaId.default('default'),
  json: z.boolean().default(false),
};

/**
 * `ca init --id`: a CA id, and for an M2M-Sub-ID no CA id can spell (upper case, . _ : ~, over 63 characters), the way
 * to name it instead (review 355: `--id Sub-A` was refused saying only what a CA id is).
 */
const InitCaId = z
  .string()
  .superRefine((id, ctx) => {
    const parsed = CaId.safeParse(id);
    if (parsed.success) return;
    const message = parsed.error.issues[0]?.message ?? 'is not a CA id';
    ctx.addIssue({
      code: 'custom',
      message: M2MSubId.safeParse(id).success
        ? `${message}; to certify M2M Service Subscription ${id}, name it apart: --id <lowercase-id> --subscription ${id}`
        : message,
    });
  })
  .default('default');

const Init = z
  .object({
    ...DataOptions,
    id: InitCaId,
    subscription: M2MSubId.optional(),
    keyType: z.enum(['ed25519', 'p256']).default('p256'),
    subject: z.string().min(1).max(1024).optional(),
    validityDays: WholeNumber(1, MAX_CA_VALIDITY_DAYS).optional(),
    intermediate: z.boolean().default(false),
    csrOut: z.string().min(1).max(4096).optional(),
  })
  .refine((o) => o.intermediate === (o.csrOut !== undefined), { path: ['csrOut'], message: 'is required with --intermediate, and only with it' })
  .refine((o) => !o.intermediate || o.validityDays === undefined, { path: ['validityDays'], message: 'the external root decides an intermediate’s validity' })
  .refine((o) => o.id !== 'default' || o.subscription === undefined, {
    path: ['subscription'],
    message: 'CA default certifies the nodes no other CA does: give the CA of this subscription an --id of its own',
  });

/** How init names the subscription a CA certifies, when it names one. */
const certifying = (subscription: string | undefined): string => (subscription !== undefined ? ` (M2M Service Subscription ${subscription})` : '');

const init = async (args: z.infer<typeof Init>, io: Io): Promise<number> => {
  // Before the data folder is made or locked: a refused subject or CSR path leaves no folder behind.
  if (args.subject !== undefined) {
    const parsed = parseDistinguishedName(args.subject);
    // As createRootCa would refuse it (adapters/driven/pki/create.ts): the attribute and the rule, never the value.
    if (!parsed.ok) throw validationError([{ path: 'subject', rule: 'distinguished_name', message: `${parsed.message} [${parsed.rule}]` }], 'issuing CA');
  }
  if (args.csrOut !== undefined) assertNewFileWritable('--csr-out', args.csrOut);
  const { createRootCa, requestIntermediateCa } = await import('../../adapters/driven/pki/index.ts');
  return withCaFolder(args, io, async ({ dataDir, se, random }) => {
    const common = { dataDir, se, id: args.id, subscription: args.subscription, kind: args.keyType, subject: args.subject, now: new Date(), random };
    if (args.csrOut !== undefined) {
      const csrOut = args.csrOut;
      // Written before the CA file, and removed if that fails: a refused init leaves neither key, CA nor CSR.
      let written = false;
      try {
        await requestIntermediateCa({
          ...common,
          deliver: (csr) => {
            writeNewFile('--csr-out', csrOut, pemOf('CERTIFICATE REQUEST', csr));
            written = true;
          },
        });
      } catch (error) {
        if (written) rmSync(csrOut, { force: true });
        throw error;
      }
      if (args.json) io.out(json({ id: args.id, ...(args.subscription !== undefined ? { subscription: args.subscription } : {}), state: 'awaiting_certificate', csr: args.csrOut }));
      else io.err(`CA ${args.id}${certifying(args.subscription)}: ${args.keyType} key made in the Secure Environment; CSR written to ${args.csrOut}. Have your root sign it, then: credence ca install --id ${args.id} --certificate FILE --chain FILE`);
      return 0;
    }
    await createRootCa({ ...common, ...(args.validityDays !== undefined ? { validityDays: args.validityDays } : {}) });
    const shown = describeCa(dataDir, args.id);
    if (args.json) io.out(json(shown));
    else {
      io.out(printable(`CA ${args.id}${certifying(args.subscription)}: self-signed root, ${args.keyType}, ${shown.subject}, valid ${shown.notBefore} to ${shown.notAfter}`));
      // No service runs on the folder now (ca init is refused while one holds it): the next start is what loads it.
      io.err(printable(`  (the service loads it when it starts on ${dataDir}: credence serve --data ${dataDir})`));
    }
    return 0;
  });
};

const Install = z.object({ ...DataOptions, certificate: z.string().min(1).max(4096), chain: z.string().min(1).max(4096) });

const install = async (args: z.infer<typeof Install>, io: Io): Promise<number> => {
  const certificate = readCertificates('--certificate', args.certificate, 1)[0] as Uint8Array;
  const chain = readCertificates('--chain', args.chain);
  const { installCaCertificate } = await import('../../adapters/driven/pki/index.ts');
  const { caInstants, certifiesNoCredentialNow, DEFAULT_CREDENTIAL_LIFETIME_MS } = await import('../../adapters/runtime/pki-ended-cas.ts');
  return withCaFolder(args, io, async ({ dataDir, se, random }) => {
    const now = new Date();
    const installed = await installCaCertificate({ dataDir, se, id: args.id, certificate, chain, now, random });
    const shown = describeCa(dataDir, args.id);
    if (args.json) io.out(json(shown));
    else io.out(printable(`CA ${args.id}: installed, issued by ${shown.issuer}, valid ${shown.notBefore} to ${shown.notAfter}`));
    // Installed, not refused (review 231): a short certificate still signs CRLs and OCSP answers. But said now, not
    // first at the service's next start, once its nodes' enrolments have failed (ca_expires_first).
    const { endsAt, certifiesUntil } = caInstants(installed);
    if (certifiesUntil <= now.getTime()) {
      io.err(
        `warning: ${certifiesNoCredentialNow(args.id, new Date(endsAt), DEFAULT_CREDENTIAL_LIFETIME_MS)}. Have the root sign it to end ` +
          `later (credence ca renew --id ${args.id} --csr-out FILE, then credence ca install; docs/pki.md, "Renewing a CA")`,
      );
    }
    return 0;
  });
};

const Renew = z
  .object({ ...DataOptions, validityDays: WholeNumber(1, MAX_CA_VALIDITY_DAYS).optional(), csrOut: z.string().min(1).max(4096).optional() })
  .refine((o) => o.csrOut === undefined || o.validityDays === undefined, { path: ['validityDays'], message: 'the external root decides an intermediate’s validity' });

const renew = async (args: z.infer<typeof Renew>, io: Io): Promise<number> => {
  if (args.csrOut !== undefined) assertNewFileWritable('--csr-out', args.csrOut);
  const { DEFAULT_CA_VALIDITY_DAYS, renewalRequest, renewRootCa } = await import('../../adapters/driven/pki/index.ts');
  return withCaFolder(args, io, async ({ dataDir, se, random }) => {
    if (args.csrOut !== undefined) {
      const csr = await renewalRequest({ dataDir, se, id: args.id });
      writeNewFile('--csr-out', args.csrOut, pemOf('CERTIFICATE REQUEST', csr));
      if (args.json) io.out(json({ id: args.id, state: 'active', csr: args.csrOut }));
      else io.err(`CA ${args.id}: CSR for its renewal written to ${args.csrOut} (same key and subject; the CA issues under its current certificate meanwhile). Have your root sign it, then: credence ca install --id ${args.id} --certificate FILE --chain FILE`);
      return 0;
    }
    await renewRootCa({ dataDir, se, id: args.id, validityDays: args.validityDays ?? DEFAULT_CA_VALIDITY_DAYS, now: new Date(), random });
    const shown = describeCa(dataDir, args.id);
    if (args.json) io.out(json(shown));
    else {
      io.out(printable(`CA ${args.id}: renewed, same key and subject, serial ${shown.serialNumber}, valid ${shown.notBefore} to ${shown.notAfter}`));
      io.err(printable(`  (the service loads it when it starts on ${dataDir}; relying parties fetch the new certificate at /pki/${args.id}/ca.crt)`));
    }
    return 0;
  });
};

const Show = z.object({ ...DataOptions, id: CaId.optional(), pem: z.boolean().default(false) });

const show = async (args: z.infer<typeof Show>, io: Io): Promise<number> => {
  const { caIds, missingCaKeyRemedy, readCaFile } = await import('../../adapters/driven/pki/index.ts');
  const dataDir = await caDataDir(args, io);
  const ids = args.id !== undefined ? [args.id] : caIds(dataDir);
  const described = ids.map((id) => describeCa(dataDir, id));
  if (args.pem) {
    for (const ca of described) {
      io.out(ca.state === 'active' ? pemOf('CERTIFICATE', fromBase64url(ca.certificate)).trimEnd() : pemOf('CERTIFICATE REQUEST', fromBase64url(ca.csr)).trimEnd());
    }
    return 0;
  }
  const files = ids.flatMap((id) => readCaFile(dataDir, id) ?? []);
  const keys = await caKeyStates(args, io, files);
  const cas = described.map((ca) => ({ ...ca, key: keys.of.get(ca.id) ?? 'unchecked' }));
  if (keys.reason !== undefined) io.err(printable(`warning: whether ${keys.where} holds the CA keys was not checked: ${keys.reason}`));
  if (args.json) {
    io.out(json({ cas }));
    return 0;
  }
  if (cas.length === 0) io.err(`no issuing CA in ${dataDir} (credence ca init makes one)`);
  for (const ca of cas) {
    // A certificate's subject and issuer are whatever the file installed says: printed through printable only.
    io.out(printable(`${ca.id}  ${ca.key === 'missing' ? 'key missing' : ca.state}  ${ca.keyKind}  ${ca.subject}`));
    io.out(
      printable(
        ca.subscription !== undefined ? `  certifies the nodes of M2M Service Subscription ${ca.subscription}` : '  certifies the nodes of every subscription with no CA of its own',
      ),
    );
    if (ca.key === 'missing') {
      const handle = files.find((file) => file.id === ca.id)?.keyHandle;
      const stops = ca.state === 'active' ? 'the service does not start while this CA is in pki/' : 'ca install cannot take its certificate';
      io.out(printable(`  its key ${handle} is not in ${keys.where}: ${stops}; ${missingCaKeyRemedy(ca.id)}`));
    }
    if (ca.state === 'active') {
      io.out(printable(`  issuer ${ca.issuer}  serial ${ca.serialNumber}`));
      io.out(printable(`  valid ${ca.notBefore} to ${ca.notAfter}  ${ca.chain.length === 0 ? 'root' : `intermediate, ${ca.chain.length} above it`}`));
      io.out(printable(`  certificate ${ca.fingerprint}`));
    } else io.out('  awaiting its certificate: credence ca install (--pem prints the CSR again)');
  }
  return 0;
};

const withFolderOptions = (command: Command): Command =>
  command
    .option('--data <dir>', 'the data folder (env CREDENCE_DATA; default ./data)')
    .option('--config <file>', "the service's configuration file (JSON, as credence serve --config): its data folder and Secure Environment")
    .option('--json', 'print the result as JSON');

export const register: RegisterCommands = (program, io) => {
  const ca = program
    .command('ca')
    .description('the issuing CAs of the data folder: operational X.509 certificates for nodes (docs/pki.md)')
    .addHelpText('after', '\nThe CA key is generated in the Secure Environment and never leaves it. A running service loads CAs when it starts.');

  const initCommand: Command = withFolderOptions(
    ca
      .command('init')
      .description('create an issuing CA: a self-signed root, or (--intermediate) a key and a CSR for an external root')
      .option('--id <id>', 'the CA id (lowercase letters, digits, dashes): default, or one certifying the M2M Service Subscription of that id', 'default')
      .option('--subscription <m2m-sub-id>', 'the M2M-Sub-ID whose nodes it certifies, when its --id is not that (e.g. --id sub-a-ca --subscription Sub-A)')
      .addOption(new Option('--key-type <type>', 'the CA key').choices(['ed25519', 'p256']).default('p256'))
      .option('--subject <dn>', 'distinguished name, RFC 4514 (default: CN=Credence CA <id>)')
      .option('--validity-days <days>', 'a root’s validity (default 3650)')
      .option('--intermediate', 'make a key and a CSR for an external root to sign (then credence ca install)')
      .option('--csr-out <file>', 'where --intermediate writes the CSR (PEM)'),
  ).action(handler(io, async (opts: Record<string, unknown>) => init(parseOptions(initCommand, Init, opts), io)));

  const installCommand: Command = withFolderOptions(
    ca
      .command('install')
      .description('install the certificate an external root signed for an intermediate (made by ca init --intermediate, or its renewal from ca renew --csr-out)')
      .option('--id <id>', 'the CA id', 'default')
      .requiredOption('--certificate <file>', 'the signed CA certificate (PEM or DER)')
      .requiredOption('--chain <file>', 'the certificates above it up to and including the root (PEM)'),
  ).action(handler(io, async (opts: Record<string, unknown>) => install(parseOptions(installCommand, Install, opts), io)));

  const renewCommand: Command = withFolderOptions(
    ca
      .command('renew')
      .description('give an active CA a later end, same key and subject: a root in place, an intermediate through a CSR (then ca install)')
      .option('--id <id>', 'the CA id', 'default')
      .option('--validity-days <days>', 'a root’s new validity, from now (default 3650); must end after the current one')
      .option('--csr-out <file>', 'an intermediate: where to write the CSR its root signs (PEM)'),
  ).action(handler(io, async (opts: Record<string, unknown>) => renew(parseOptions(renewCommand, Renew, opts), io)));

  const showCommand: Command = withFolderOptions(
    ca
      .command('show')
      .description('print the issuing CAs (or one, with --id)')
      .option('--id <id>', 'only this CA')
      .option('--pem', 'print the certificate (or a waiting CA’s CSR) as PEM'),
  ).action(handler(io, async (opts: Record<string, unknown>) => show(parseOptions(showCommand, Show, opts), io)));
};
