import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { validationError } from '../../../domain/errors.ts';
import { jsonLimitIssue } from '../../../domain/json-limits.ts';
import { base64urlString } from '../../../domain/crypto/base64url.ts';
import { IsoTimestamp } from '../../../domain/crypto/credential.ts';
import { M2MSubId } from '../../../domain/ids.ts';
import { MAX_CERTIFICATE_CHAIN, MAX_CERTIFICATE_LENGTH } from '../../../domain/crypto/sizes.ts';
import { KeyHandle } from '../../../domain/ports/secure-environment.ts';
import { CaId } from '../../../domain/x509/issuing-ca.ts';
import { DEFAULT_CA_ID } from '../../../domain/x509/issuance/index.ts';
import { preparePrivateDir, writeFileAtomic } from '../files/index.ts';
import { refuseNewerFileVersion } from '../files/newer-file-version.ts';

/**
 * One issuing CA on disk (issue 13): `<data>/pki/<id>.ca.json`, written atomically, private (0600), parsed by zod on
 * every read. It holds the handle of the CA key in the data folder's Secure Environment (never the key), the key's
 * kind, and the certificates, all public. A CA made with `--intermediate` is `awaiting_certificate` (its CSR kept, so
 * it can be printed again) until `credence ca install` gives it the certificate an external CA signed.
 */
export const PKI_DIR = 'pki';
const SUFFIX = '.ca.json';
const MAX_FILE_BYTES = 256 * 1024;

const Der = base64urlString({ max: MAX_CERTIFICATE_LENGTH });

/** The layout of the CA files this version writes and reads; a file of a newer one is refused (readCaFile). */
const CA_FILE_VERSION = 1;

/**
 * The M2M Service Subscription the CA certifies (`ca init --subscription`, review 355), when its id does not spell it.
 * Optional, within version 1: a file written before CAs named one loads, and certifies the subscription of its id.
 */
const subscription = M2MSubId.optional();

export const CaFile = z.discriminatedUnion('state', [
  z.strictObject({
    version: z.literal(CA_FILE_VERSION),
    state: z.literal('active'),
    id: CaId,
    subscription,
    keyKind: z.enum(['ed25519', 'p256']),
    keyHandle: KeyHandle,
    createdAt: IsoTimestamp,
    certificate: Der,
    /** Nearest issuer first, up to and including the root; empty for a root. */
    chain: z.array(Der).max(MAX_CERTIFICATE_CHAIN),
  }),
  z.strictObject({
    version: z.literal(CA_FILE_VERSION),
    state: z.literal('awaiting_certificate'),
    id: CaId,
    subscription,
    keyKind: z.enum(['ed25519', 'p256']),
    keyHandle: KeyHandle,
    createdAt: IsoTimestamp,
    subject: z.string().min(1).max(1024),
    csr: Der,
  }),
]);
export type CaFile = z.infer<typeof CaFile>;

export const pkiDir = (dataDir: string): string => join(dataDir, PKI_DIR);
export const caFilePath = (dataDir: string, id: CaId): string => join(pkiDir(dataDir), `${id}${SUFFIX}`);

const unreadable = (path: string, rule: string, message: string) => validationError([{ path, rule, message }], 'issuing CA file');

/** The CA file of `id`, or undefined when there is none; a file that is not one is a `validation` error naming it. */
export const readCaFile = (dataDir: string, id: CaId): CaFile | undefined => {
  const path = caFilePath(dataDir, id);
  if (!existsSync(path)) return undefined;
  if (statSync(path).size > MAX_FILE_BYTES) throw unreadable(path, 'max_bytes', `larger than ${MAX_FILE_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw unreadable(path, 'json', 'is not valid JSON');
  }
  const tooBig = jsonLimitIssue(value);
  if (tooBig !== undefined) throw unreadable(path, tooBig.rule, tooBig.message);
  // Before the schema: a newer layout is no malformed file of this one ("version: expected 1"), nor to be fixed by hand.
  refuseNewerFileVersion(value, path, 'issuing CA', CA_FILE_VERSION);
  const parsed = CaFile.safeParse(value);
  if (!parsed.success) {
    throw validationError(
      parsed.error.issues.map((i) => ({ path: `${path}: ${i.path.join('.') || '(root)'}`, rule: i.code, message: i.message })),
      'issuing CA file',
    );
  }
  if (parsed.data.id !== id) throw unreadable(path, 'id', `holds CA ${parsed.data.id}, not ${id}`);
  // As `ca init` refuses it (review 357): `default` certifies the nodes no other CA does and names none; a subscription
  // written into its file by hand would go with every certificate it issues, which certificate-rules.ts refuses of it.
  if (parsed.data.id === DEFAULT_CA_ID && parsed.data.subscription !== undefined) {
    throw unreadable(
      `${path}: subscription`,
      'not_default',
      `CA ${DEFAULT_CA_ID} certifies the nodes no other CA does and names no subscription: remove "subscription" from its file, and give the CA of M2M Service Subscription ${parsed.data.subscription} an id of its own (credence ca init --id <id> --subscription ${parsed.data.subscription})`,
    );
  }
  return parsed.data;
};

/** Every CA id with a file in `<data>/pki/`, sorted. */
export const caIds = (dataDir: string): CaId[] => {
  const dir = pkiDir(dataDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith(SUFFIX))
    .map((name) => name.slice(0, -SUFFIX.length))
    .filter((id) => CaId.safeParse(id).success)
    .sort();
};

/**
 * Writes a CA file. `create` refuses to replace one (a second `ca init` racing the first loses with a `validation`
 * error instead of forking the CA); otherwise the file is replaced atomically.
 */
export const writeCaFile = (dataDir: string, file: CaFile, mode: 'create' | 'replace'): void => {
  preparePrivateDir(pkiDir(dataDir));
  const path = caFilePath(dataDir, file.id);
  try {
    writeFileAtomic(path, `${JSON.stringify(CaFile.parse(file), null, 2)}\n`, { exclusive: mode === 'create' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw caExists(dataDir, file.id);
    throw error;
  }
};

export const caExists = (dataDir: string, id: CaId) =>
  validationError([{ path: 'caId', rule: 'unused', message: `CA ${id} already exists (${caFilePath(dataDir, id)}): choose another --id, or keep it` }], 'issuing CA');
