import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * OpenSSL's command line (issue 13: certificates, CRLs and OCSP proven with a real relying party's tools). Tests run
 * it as a child process, never through a shell; every file lives in one temporary folder per `OpenSslDir`.
 * `.ci/run` installs it when missing; the binary is /usr/bin/openssl unless OPENSSL names another.
 */
export const OPENSSL = process.env['OPENSSL'] ?? '/usr/bin/openssl';

export interface OpenSslResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `openssl args…`; resolves with the exit status and both outputs (a non-zero status is a result, not a throw). */
export const openssl = (args: readonly string[], options: { readonly cwd?: string; readonly input?: Uint8Array | string } = {}): Promise<OpenSslResult> =>
  new Promise((resolve, reject) => {
    const child = execFile(OPENSSL, [...args], { cwd: options.cwd, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      resolve({ status: error === null ? 0 : (error.code as number), stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });

/** `openssl args…` that must succeed: its stdout, or a throw quoting stderr. */
export const opensslOk = async (args: readonly string[], options: { readonly cwd?: string; readonly input?: Uint8Array | string } = {}): Promise<string> => {
  const r = await openssl(args, options);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
};

/** True when the OpenSSL command line is there (tests that need it say so instead of failing obscurely). */
export const hasOpenssl = (): boolean => {
  try {
    execFileSync(OPENSSL, ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** PEM armour of DER (`CERTIFICATE`, `X509 CRL`, `CERTIFICATE REQUEST`, …): the product's own encoder. */
export { pemOf as pem } from '../../domain/x509/pem.ts';

/** The DER inside the first PEM block of `text` with that label. */
export const derOfPem = (text: string, label: string): Uint8Array => {
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]+?)-----END ${label}-----`).exec(text);
  if (match === null) throw new Error(`no ${label} PEM block`);
  return new Uint8Array(Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64'));
};

/** A temporary folder for one test's OpenSSL files; `remove()` in afterEach/afterAll. */
export class OpenSslDir {
  readonly path: string;

  constructor(prefix = 'credence-openssl-') {
    this.path = mkdtempSync(join(tmpdir(), prefix));
  }

  file(name: string): string {
    return isAbsolute(name) ? name : join(this.path, name);
  }

  write(name: string, contents: string | Uint8Array): string {
    const path = this.file(name);
    writeFileSync(path, contents);
    return path;
  }

  read(name: string): Buffer {
    return readFileSync(this.file(name));
  }

  run(args: readonly string[], input?: Uint8Array | string): Promise<OpenSslResult> {
    return openssl(args, { cwd: this.path, ...(input !== undefined ? { input } : {}) });
  }

  ok(args: readonly string[], input?: Uint8Array | string): Promise<string> {
    return opensslOk(args, { cwd: this.path, ...(input !== undefined ? { input } : {}) });
  }

  /**
   * A private key made by `openssl genpkey` in `name` (PEM): `ed25519`, `p256`, `p384` or `rsa` (2048 bits). Returns
   * the path.
   */
  async genkey(name: string, kind: 'ed25519' | 'p256' | 'p384' | 'rsa'): Promise<string> {
    const args =
      kind === 'ed25519'
        ? ['-algorithm', 'ED25519']
        : kind === 'rsa'
          ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']
          : ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${kind === 'p256' ? 'P-256' : 'P-384'}`];
    await this.ok(['genpkey', ...args, '-out', name]);
    return this.file(name);
  }

  /** A PKCS#10 CSR (DER) signed with the key in `keyFile`: `openssl req -new -key … -subj …` plus any extra args. */
  async csr(keyFile: string, subject: string, extra: readonly string[] = []): Promise<Uint8Array> {
    const out = `${keyFile}.csr.der`;
    await this.ok(['req', '-new', '-key', keyFile, '-subj', subject, ...extra, '-outform', 'DER', '-out', out]);
    return new Uint8Array(readFileSync(this.file(out)));
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}
