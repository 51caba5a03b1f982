import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pem } from './support/openssl.ts';
import { issueCertifiedCredential, pkiOf, revokeAndSettle, startPkiService, testLeaf, type TestLeaf } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/**
 * A relying party as an MQTT broker or TLS terminator would be one: a Node `tls` server that requires client
 * certificates from the Credence CA and checks them against the CRL served at the distribution point, fetched again
 * (If-None-Match: a 304 costs nothing) before it accepts a connection, and swapped in with setSecureContext.
 */
class RelyingParty {
  readonly #options: tls.SecureContextOptions;
  #etag: string | undefined;
  /** Refuses an unverified client in the handshake (rejectUnauthorized), as a broker would. */
  readonly server: tls.Server;
  /** The same check, but it tells the client why (OpenSSL's verification code) before it closes. */
  readonly explaining: tls.Server;

  constructor(
    private readonly crlUrl: string,
    server: TestLeaf,
    caPem: string,
  ) {
    this.#options = { key: server.keyPem, cert: server.pem, ca: caPem };
    this.server = tls.createServer({ ...this.#options, requestCert: true, rejectUnauthorized: true }, (socket) => socket.end('welcome\n'));
    this.explaining = tls.createServer({ ...this.#options, requestCert: true, rejectUnauthorized: false }, (socket) =>
      socket.end(socket.authorized ? 'welcome\n' : `refused ${String(socket.authorizationError)}\n`),
    );
  }

  async refreshCrl(): Promise<boolean> {
    const response = await fetch(this.crlUrl, { headers: this.#etag === undefined ? {} : { 'if-none-match': this.#etag } });
    if (response.status === 304) return false;
    expect(response.status).toBe(200);
    this.#etag = response.headers.get('etag') ?? undefined;
    const crl = pem('X509 CRL', new Uint8Array(await response.arrayBuffer()));
    for (const server of [this.server, this.explaining]) server.setSecureContext({ ...this.#options, crl });
    return true;
  }

  async listen(): Promise<{ strict: number; explaining: number }> {
    const on = async (server: tls.Server) => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    };
    return { strict: await on(this.server), explaining: await on(this.explaining) };
  }
}

/** Connects as the device; 'accepted' once the server's greeting arrives, else what ended the connection. */
const connectAs = (port: number, device: TestLeaf): Promise<string> =>
  new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, key: device.keyPem, cert: device.pem, rejectUnauthorized: false });
    let settled = false;
    const done = (outcome: string) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(20_000, () => done('timeout'));
    socket.on('data', (data: Buffer) => done(data.toString('utf8').includes('welcome') ? 'accepted' : data.toString('utf8').trim()));
    socket.on('error', (error) => done(`refused: ${error.message}`));
    // Under TLS 1.3 the alert may land as the end of the stream: give a pending error its turn first.
    socket.on('close', () => setImmediate(() => done('refused: closed')));
  });

describe('a TLS server checking the served CRL (issue 13)', () => {
  let svc: TestService;
  let party: RelyingParty;
  let ports: { strict: number; explaining: number };

  beforeAll(async () => {
    svc = await startPkiService('p256');
    const ca = pkiOf(svc).cas[0]!;
    const serverCert = await testLeaf(ca, { baseUrl: svc.url, name: 'broker.example', purpose: 'server' });
    party = new RelyingParty(`${svc.url}/pki/default/crl`, serverCert, pem('CERTIFICATE', ca.certificate));
    ports = await party.listen();
  }, 60_000);
  afterAll(async () => {
    for (const server of [party?.server, party?.explaining]) await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
    await svc?.close();
  });

  it('accepts a device before revokeCredential and refuses the same device after it', async () => {
    // The certificate is recorded in a CredentialIssued event through the engine, issued by the SE-backed CA.
    const device = await issueCertifiedCredential(svc, 'cred-tls-1');
    await party.refreshCrl();
    expect(await connectAs(ports.strict, device)).toBe('accepted');
    expect(await party.refreshCrl()).toBe(false);
    expect(await connectAs(ports.strict, device)).toBe('accepted');
    expect(await connectAs(ports.explaining, device)).toBe('accepted');

    await revokeAndSettle(svc, 'cred-tls-1', 'keyCompromise');
    expect(await party.refreshCrl()).toBe(true);
    expect(await connectAs(ports.strict, device)).toMatch(/^refused/);
    expect(await connectAs(ports.explaining, device)).toBe('refused CERT_REVOKED');

    // Another device of the same CA is still let in.
    const other = await issueCertifiedCredential(svc, 'cred-tls-2', 'meter-1');
    await party.refreshCrl();
    expect(await connectAs(ports.strict, other)).toBe('accepted');
  }, 60_000);
});
