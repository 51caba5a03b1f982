import { afterAll, describe, expect, it } from 'vitest';
import * as asn1js from 'asn1js';
import { loadIssuingCas, readCaFile } from '../adapters/driven/pki/index.ts';
import { writeCaFile } from '../adapters/driven/pki/ca-file.ts';
import { isCredenceError } from '../domain/errors.ts';
import { issuerOf, x509Time } from '../domain/x509/issuance/index.ts';
import { derOfPem, hasOpenssl, OpenSslDir } from './support/openssl.ts';
import { rootCaWorld } from './pki-issuance-fixtures.ts';

/**
 * Issue 13, the DER details relying parties are strict about: the time types of RFC 5280 4.1.2.5, the issuer name
 * of an issued certificate byte-equal to its CA's subject however that CA encoded it, and a CA whose certificate
 * does not certify its Secure Environment key refused when the service loads it.
 */
const timeTag = (at: string) => {
  const block = x509Time(new Date(at)).toSchema();
  // asn1js's GeneralizedTime extends its UTCTime: ask the more specific first.
  return block instanceof asn1js.GeneralizedTime ? 'GeneralizedTime' : block instanceof asn1js.UTCTime ? 'UTCTime' : 'other';
};

describe('X.509 times', () => {
  it.each([
    ['1949-12-31T23:59:59.000Z', 'GeneralizedTime'],
    ['1950-01-01T00:00:00.000Z', 'UTCTime'],
    ['2049-12-31T23:59:59.000Z', 'UTCTime'],
    ['2050-01-01T00:00:00.000Z', 'GeneralizedTime'],
  ])('%s is a %s', (at, tag) => {
    expect(timeTag(at)).toBe(tag);
  });

  it('a GeneralizedTime has whole seconds and no fraction; a time with milliseconds is refused', () => {
    expect(Buffer.from(x509Time(new Date('2051-06-01T00:00:00.000Z')).toSchema().toBER()).toString('latin1')).toMatch(/20510601000000Z$/);
    expect(() => x509Time(new Date('2030-01-01T00:00:00.500Z'))).toThrow(RangeError);
  });
});

describe.runIf(hasOpenssl())("the issuer name is the CA's subject, byte for byte", () => {
  const files = new OpenSslDir();
  afterAll(() => files.remove());

  it('an OpenSSL CA whose subject holds PrintableString, IA5String and a multi-valued RDN', async () => {
    await files.genkey('root.key', 'p256');
    await files.ok(['req', '-x509', '-new', '-key', 'root.key', '-multivalue-rdn', '-subj', '/C=DE/O=Grid+OU=Unit/emailAddress=ca@example.com/CN=Ext Root', '-addext', 'basicConstraints=critical,CA:TRUE', '-days', '30', '-out', 'root.pem', '-config', files.write('root.cnf', '[req]\ndistinguished_name=dn\nstring_mask=default\n[dn]\n')]);
    const der = derOfPem(files.read('root.pem').toString('latin1'), 'CERTIFICATE');
    const subject = ((asn1js.fromBER(Uint8Array.from(der)).result as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence).valueBlock.value[5]!;
    const raw = new Uint8Array(subject.valueBeforeDecodeView);
    expect(Buffer.from(raw).toString("hex"), "PrintableString DE").toContain("13024445");
    expect(Buffer.from(issuerOf(der).name)).toEqual(Buffer.from(raw));
  });
});

describe('loading the CAs', () => {
  it("a CA file whose key handle names another key than the one its certificate certifies fails the load, naming it", async () => {
    const world = await rootCaWorld('p256', () => new Date('2026-03-01T10:00:00.000Z'));
    try {
      expect(await loadIssuingCas(world.dir, world.infra)).toHaveLength(1);
      const file = readCaFile(world.dir, 'default')!;
      if (file.state !== 'active') throw new Error('expected an active CA');
      const other = await world.infra.generate('p256', { usage: 'sign' });
      writeCaFile(world.dir, { ...file, keyHandle: other }, 'replace');
      const refused = await loadIssuingCas(world.dir, world.infra).then(() => undefined, (error: unknown) => error);
      expect(isCredenceError(refused, 'validation')).toBe(true);
      expect(JSON.stringify((refused as { problem: unknown }).problem)).toContain('certifies_ca_key');
    } finally {
      world.close();
    }
  });
});
