import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import { CaId } from '../domain/x509/issuing-ca.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Found in review 231 (5): a `<ca>.crl-number.json` holding `reservedThrough: -1` stopped the service with "is not the
 * CRL number file of CA default", saying neither what was wrong nor what to do. It is not moved aside as a damaged CRL
 * base file is: the clock's floor does not guarantee a number above every one the CA gave out (a clock set back since
 * they were reserved: the file is what keeps the numbers increasing then, RFC 5280 5.2.3). So the refusal stays, and
 * names what is wrong with the file and the remedies; the file is left as it was.
 */
const folder = temporaryFolders('credence-crl-number-damaged-');
const ca = CaId.parse('default');

describe('a damaged CRL number file', () => {
  it.each([
    ['a reservation below zero', '{"version":1,"caId":"default","reservedThrough":-1}\n', 'reservedThrough'],
    ['not JSON', '{"version":1,"caId":"def', 'not JSON'],
    ['another CA', '{"version":1,"caId":"sub-1","reservedThrough":5}\n', 'it names CA sub-1'],
  ])('is refused naming why (%s) and what to do, and left as it was', (_, content, why) => {
    const dir = folder();
    mkdirSync(join(dir, 'pki'));
    const path = join(dir, 'pki', 'default.crl-number.json');
    writeFileSync(path, content);
    let refusal: unknown;
    try {
      fileCrlNumbers(dir, ca, Date.now);
    } catch (error) {
      refusal = error;
    }
    const message = String((refusal as Error | undefined)?.message);
    expect(message).toContain(`${path}: is not the CRL number file of CA default (`);
    expect(message).toContain(why);
    // The remedies: the file from a backup, or written by hand above the highest number published.
    expect(message).toContain('put it back from a backup of the data folder');
    expect(message).toContain(`{"version":1,"caId":"default","reservedThrough":N}`);
    expect(message).toContain('openssl crl -noout -crlnumber');
    expect(message).toContain('clock was never set back');
    expect(readFileSync(path, 'utf8')).toBe(content);
  });
});
