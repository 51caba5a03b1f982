import { describe, expect, it } from 'vitest';
import { containsSecret, toBase64url } from './crypto-fixtures.ts';
import { provision, provisioningWorld } from './provisioning-protocol.fixtures.ts';

/**
 * Review 346: the "no secret in outcomes" checks scanned `JSON.stringify(outcome)` for the key's raw bytes, hex and
 * base64 text, but a key carried as a Uint8Array serialises as {"0":12,...} and a Buffer as {"type":"Buffer","data":[...]},
 * neither of which those encodings match: a PSK leaked as bytes passed the check. containsSecret now walks the value.
 * Review 348: the walk reads own enumerable properties only, so what a toJSON puts on the wire (a key kept in a private
 * field) was missed; the serialised form is scanned too.
 */
describe('the no-secret check finds a key carried as bytes in an outcome', async () => {
  const world = await provisioningWorld({ bootstrapKind: 'p256' });
  const { result, outcome } = await provision(world, 'psk256');
  const psk = world.nodeSe.exportForTest(result.handle);

  it('the real outcome carries no secret (the check is not always yes)', () => {
    expect(psk.length).toBe(32);
    expect(containsSecret(outcome, psk)).toBe(false);
  });

  it.each([
    ['a Uint8Array', () => Uint8Array.from(psk)],
    ['a Buffer', () => Buffer.from(psk)],
    ['a Uint8Array inside a longer one', () => Uint8Array.from([7, ...psk, 9])],
    ['bytes nested in an array', () => [{ key: Uint8Array.from(psk) }]],
    ['a Buffer already through JSON ({"type":"Buffer","data":[...]})', () => JSON.parse(JSON.stringify(Buffer.from(psk)))],
    ['a Uint8Array already through JSON ({"0":..})', () => JSON.parse(JSON.stringify(Uint8Array.from(psk)))],
    ['a plain array of its bytes', () => Array.from(psk)],
  ])('the PSK as %s is found', (_, leak) => {
    const leaky = { ...outcome, credential: { ...outcome.credential, leaked: leak() } };
    expect(containsSecret(leaky, psk)).toBe(true);
    expect(containsSecret([leaky], psk)).toBe(true);
  });

  it('what toJSON puts on the wire is scanned too: a key kept in a private field and exposed by toJSON is found (review 348)', () => {
    class Holder {
      readonly #key = Buffer.from(psk).toString('base64');
      toJSON(): unknown {
        return { key: this.#key };
      }
    }
    expect(Object.keys(new Holder())).toEqual([]);
    expect(containsSecret({ ...outcome, holder: new Holder() }, psk)).toBe(true);
    // A bigint anywhere in the value is no reason to give up on the wire form (JSON.stringify alone throws on it).
    expect(containsSecret({ ...outcome, n: 1n, holder: new Holder() }, psk)).toBe(true);
  });

  it('strings are still scanned: the PSK as base64url text, and as hex inside a longer string, is found', () => {
    expect(containsSecret({ ...outcome, note: toBase64url(psk) }, psk)).toBe(true);
    expect(containsSecret({ ...outcome, note: `key=${Buffer.from(psk).toString('hex')};` }, psk)).toBe(true);
    expect(containsSecret({ ...outcome, [toBase64url(psk)]: 1 }, psk)).toBe(true);
  });
});
