/**
 * Review 162: two tokens with one label, and `token=<label>` opened whichever the module listed first (SoftHSM2 lists
 * slots by slot ID, derived from the serial). A folder made on one "dup" token then met another, newer one listed
 * first: `token create` and `serve` were refused as `access_signing_key_present`, whose advice (`--withdraw-missing`)
 * withdrew the real key and made the new one in the other token; a fresh `ca init` put its CA key in either. Now a
 * selection that matches more than one token is refused (`token`/`token_ambiguous`), naming their serials and asking
 * for `;serial=`, before any session is opened: nothing is made in either token, nothing written in the folder.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { CredenceError } from '../domain/errors.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/pkcs11-secure-environment.ts';
import { findTokenSlot, pkcs11js, type Pkcs11 } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { capture } from './support/cli.ts';
import { SOFTHSM_MODULE, softHsm, softHsmMissing, withSoftHsmModule } from './support/softhsm.ts';

type Env = Readonly<Record<string, string>>;
const run = async (args: string[], env: Env) => {
  const c = capture();
  const code = await main(args, { ...c.io, env });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe.skipIf(softHsmMissing !== undefined)('a PKCS#11 token label two tokens share', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());

  /** The serials of the tokens labelled `label`, read through the module (opened and finalised around it). */
  const serialsOf = async (label: string): Promise<string[]> => {
    const serials: string[] = [];
    await withSoftHsmModule(async (module) => {
      for (const slot of module.C_GetSlotList(true)) {
        const info = module.C_GetTokenInfo(slot);
        if (info.label.trim() === label) serials.push(info.serialNumber.trim());
      }
    });
    return serials;
  };
  /** How many objects each token (by serial) holds, logged in with its own PIN: what Credence made there. */
  const objectCounts = async (pins: ReadonlyMap<string, string>): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {};
    await withSoftHsmModule(async (module) => {
      for (const slot of module.C_GetSlotList(true)) {
        const serial = module.C_GetTokenInfo(slot).serialNumber.trim();
        const pin = pins.get(serial);
        if (pin === undefined) continue;
        const session = module.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
        try {
          module.C_Login(session, pkcs11js.CKU_USER, pin);
          module.C_FindObjectsInit(session, []);
          let n = 0;
          while (module.C_FindObjects(session) !== null) n += 1;
          module.C_FindObjectsFinal(session);
          counts[serial] = n;
        } finally {
          module.C_CloseSession(session);
        }
      }
    });
    return counts;
  };

  // The first "dup" token, and a folder made on it while it is the only one (the review's d6).
  const first = hsm.token('dup');
  const firstPinFile = join(hsm.dir, 'first-dup.pin');
  writeFileSync(firstPinFile, `${first.pin}\n`, { mode: 0o600 });
  const uriOf = (path: string) => `pkcs11:${path}?module-path=${SOFTHSM_MODULE}&pin-source=file:${firstPinFile}`;
  const envOf = (path: string): Env => ({ CREDENCE_SECURE_ENVIRONMENT: uriOf(path) });
  const folder = join(hsm.dir, 'd6');
  /** Every file of the folder with a digest of its bytes: what a refused command must leave as it was. */
  const folderFiles = () =>
    Object.fromEntries(
      readdirSync(folder, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => [join(e.parentPath, e.name), createHash('sha256').update(readFileSync(join(e.parentPath, e.name))).digest('hex')]),
    );
  let firstSerial = '';
  let pins = new Map<string, string>();

  it('a folder is made on the one token so labelled', async () => {
    [firstSerial] = (await serialsOf('dup')) as [string];
    expect(firstSerial).toMatch(/\S/);
    const made = await run(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '1h', '--data', folder], envOf('token=dup'));
    expect(made.code, made.err).toBe(0);
  });

  it('once a second token carries the label, opening by the label alone is refused naming both serials; nothing made in either, nothing written', async () => {
    const second = hsm.token('dup');
    const serials = await serialsOf('dup');
    expect(serials).toHaveLength(2);
    const secondSerial = serials.find((s) => s !== firstSerial)!;
    pins = new Map([[firstSerial, first.pin], [secondSerial, second.pin]]);
    const objectsBefore = await objectCounts(pins);
    expect(objectsBefore[secondSerial]).toBe(0);
    const folderBefore = folderFiles();
    expect(Object.keys(folderBefore)).toContain(join(folder, 'access.db'));

    // The port: a typed validation error on `token`, naming the serials (not secret) and what to add.
    let refusal: unknown;
    try {
      Pkcs11SecureEnvironment.open({ uri: uriOf('token=dup') }, { random: systemRandom }).close();
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(CredenceError);
    const problem = (refusal as CredenceError).problem;
    expect(problem.code).toBe('validation');
    const issue = problem.code === 'validation' ? problem.issues[0] : undefined;
    expect(issue).toMatchObject({ path: 'token', rule: 'token_ambiguous' });
    for (const serial of serials) expect(issue!.message).toContain(`"${serial}"`);
    expect(issue!.message).toContain(';serial=');
    expect(issue!.message).not.toContain(first.pin);

    // The CLI, as the review ran it: token create, the advice's rotate-key --withdraw-missing, a fresh ca init.
    const create = await run(['token', 'create', '--role', 'auditor', '--subject', 'bob', '--ttl', '1h', '--data', folder], envOf('token=dup'));
    expect(create.code).not.toBe(0);
    expect(create.err).toContain('initialised tokens in this module are labelled "dup"');
    expect(create.err).toContain(';serial=');
    expect(create.err).not.toContain('access_signing_key_present');
    for (const serial of serials) expect(create.err).toContain(serial);
    const rotate = await run(['token', 'rotate-key', '--withdraw-missing', 'key_AAAAAAAAAAAAAAAAAAAAAAAA', '--data', folder], envOf('token=dup'));
    expect(rotate.code).not.toBe(0);
    expect(rotate.err).toContain('initialised tokens in this module are labelled "dup"');
    const fresh = join(hsm.dir, 'fresh');
    const caInit = await run(['ca', 'init', '--key-type', 'ed25519', '--data', fresh], envOf('token=dup'));
    expect(caInit.code).not.toBe(0);
    expect(caInit.err).toContain('initialised tokens in this module are labelled "dup"');
    expect(existsSync(fresh)).toBe(false);

    expect(folderFiles()).toEqual(folderBefore);
    expect(await objectCounts(pins)).toEqual(objectsBefore);
    // Nothing revoked: token list reads access.db alone, no Secure Environment setting needed (docs/hsm.md).
    const listed = await run(['token', 'list', '--all', '--json', '--data', folder], {});
    expect(listed.code, listed.err).toBe(0);
    expect((JSON.parse(listed.out) as { tokens: { subject: string; state: string }[] }).tokens.map((t) => [t.subject, t.state])).toEqual([['alice', 'active']]);
  });

  it('with `;serial=` the right token opens: the folder\'s, whose key still signs, and a new CA key lands in the token named', async () => {
    const secondSerial = [...pins.keys()].find((s) => s !== firstSerial)!;
    const objectsBefore = await objectCounts(pins);
    const create = await run(['token', 'create', '--role', 'auditor', '--subject', 'bob', '--ttl', '1h', '--data', folder], envOf(`token=dup;serial=${firstSerial}`));
    expect(create.code, create.err).toBe(0);
    // Signed with the key already there: nothing new in either token.
    expect(await objectCounts(pins)).toEqual(objectsBefore);

    const ca = join(hsm.dir, 'ca-on-first');
    const caInit = await run(['ca', 'init', '--key-type', 'ed25519', '--data', ca], envOf(`token=dup;serial=${firstSerial}`));
    expect(caInit.code, caInit.err).toBe(0);
    const after = await objectCounts(pins);
    expect(after[firstSerial]).toBeGreaterThan(objectsBefore[firstSerial]!);
    expect(after[secondSerial]).toBe(objectsBefore[secondSerial]);
  });
});

/** The rule without a token: a stand-in module answering only the two calls the search makes. */
describe('the token search over a module', () => {
  const moduleWith = (tokens: readonly { label: string; serial: string }[]): Pkcs11 =>
    ({
      C_GetSlotList: () => tokens.map((_, i) => Buffer.from([i])),
      C_GetTokenInfo: (slot: Buffer) => {
        const t = tokens[slot[0]!]!;
        return { label: t.label.padEnd(32), serialNumber: t.serial.padEnd(16), manufacturerID: 'x'.padEnd(32), model: 'm'.padEnd(16) };
      },
    }) as unknown as Pkcs11;
  const refusal = (module: Pkcs11, token: Parameters<typeof findTokenSlot>[1]) => {
    try {
      findTokenSlot(module, token);
    } catch (error) {
      const problem = (error as CredenceError).problem;
      return problem.code === 'validation' ? problem.issues[0] : undefined;
    }
    return undefined;
  };

  it('takes the one match, the serial choosing among tokens of one label', () => {
    const module = moduleWith([{ label: 'a', serial: '1' }, { label: 'a', serial: '2' }, { label: 'b', serial: '3' }]);
    expect(findTokenSlot(module, { label: 'b' }).serial).toBe('3');
    expect(findTokenSlot(module, { label: 'a', serial: '2' }).serial).toBe('2');
    expect(refusal(module, { label: 'a' })).toMatchObject({ path: 'token', rule: 'token_ambiguous' });
    expect(refusal(module, { label: 'c' })).toMatchObject({ path: 'token', rule: 'token_present' });
  });

  it('says when the matches share a serial, and names at most eight', () => {
    const twins = refusal(moduleWith([{ label: 'a', serial: '7' }, { label: 'a', serial: '7' }]), { label: 'a', serial: '7' });
    expect(twins).toMatchObject({ rule: 'token_ambiguous' });
    expect(twins!.message).toContain('with serial "7"');
    expect(twins!.message).toContain('some share a serial: tell them apart with ;manufacturer= or ;model=');
    const many = refusal(moduleWith(Array.from({ length: 11 }, (_, i) => ({ label: 'a', serial: `s${i}` }))), { label: 'a' });
    expect(many!.message).toContain('"s7" and 3 more');
    expect(many!.message).not.toContain('"s8"');
  });
});
