import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { runCli as run } from './cli.ts';
import { OpenSslDir } from './openssl.ts';

/** The extensions OpenSSL signs a Credence intermediate's CSR with (a CA that may sign only end entities). */
const INT_EXT = `[v3_int]
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
`;

const rootCnf = (commonName: string) => `[req]
distinguished_name=dn
x509_extensions=v3_root
prompt=no
[dn]
CN=${commonName}
[v3_root]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
`;

/**
 * A data folder and an OpenSSL folder for one test file (both removed after it), in which `credence ca init
 * --intermediate` makes CA `sub-1` and its CSR (`int.csr.pem`), and OpenSSL makes a P-256 root (`root.key`,
 * `root.pem`) valid for `rootDays` days. `sign(days, out)` has the root sign the intermediate's CSR into `out`.
 */
export const intermediateUnderOpenSslRoot = (dirPrefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const files = new OpenSslDir();
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    files.remove();
  });
  const data = join(dir, 'data');
  const sign = (days: string, out: string) =>
    files.ok(['x509', '-req', '-in', 'int.csr.pem', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', days, '-sha256', '-extfile', 'int.ext', '-extensions', 'v3_int', '-out', out]);
  const init = async (rootCommonName: string, rootDays: string) => {
    const initialised = await run(['ca', 'init', '--data', data, '--id', 'sub-1', '--intermediate', '--csr-out', files.file('int.csr.pem')]);
    expect(initialised.code, initialised.err).toBe(0);
    await files.genkey('root.key', 'p256');
    files.write('root.cnf', rootCnf(rootCommonName));
    files.write('int.ext', INT_EXT);
    await files.ok(['req', '-x509', '-new', '-key', 'root.key', '-config', 'root.cnf', '-days', rootDays, '-sha256', '-out', 'root.pem']);
  };
  return { files, data, init, sign };
};
