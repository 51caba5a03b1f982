import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { validationError, type CredenceError } from '../../../../domain/errors.ts';
import { MAX_PATH_CHARS } from '../kek.ts';

/**
 * The PKCS#11 Secure Environment is configured by one RFC 7512 PKCS#11 URI, e.g.
 * `pkcs11:token=credence?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/credence/pin`.
 * The path selects the token (RFC 7512 §2.3: token, manufacturer, serial, model); the query names the module and
 * where the PIN comes from. `pin-value` is refused: a PIN in a URI ends up in shell history, process listings and
 * logs (SER-023 with the secrets rule). Credence names its own objects (CKA_ID = handle), so `object`, `id` and
 * `type` are refused rather than silently ignored. `x-derivation=host` (RFC 7512 vendor attribute) enables the
 * documented host fallback for HKDF, XChaCha20-Poly1305 and X25519 (docs/hsm.md).
 */
export const MAX_URI_CHARS = 8192;
export const PIN_ENVIRONMENT_VARIABLE = 'CREDENCE_PKCS11_PIN';

const uriProblem = (path: string, rule: string, message: string): CredenceError =>
  validationError([{ path, rule, message }], 'PKCS#11 URI');

/**
 * An attribute name as a refusal shows it: cut, as the JSON reader cuts names in paths (domain/json-duplicate-names.ts),
 * since a name is the caller's input (up to MAX_URI_CHARS here, unbounded in a configuration object) and an error
 * says where, it does not echo.
 */
const MAX_NAME_SHOWN = 64;
export const shownName = (name: string): string => (name.length > MAX_NAME_SHOWN ? `${name.slice(0, MAX_NAME_SHOWN)}… (${name.length} characters)` : name);

/**
 * Review 457 F2: a URI attribute name is quoted only when it looks like one (what RFC 7512 and its vendor extensions
 * name); any other (a PIN pasted where an attribute goes, `&S3cr3tPIN=…`) is told by its place and length.
 */
const ATTRIBUTE_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const attributeShown = (name: string, position: number | undefined, where: string): string =>
  ATTRIBUTE_NAME.test(name) || position === undefined ? shownName(name) : `attribute ${position} of the ${where} (${name.length} characters)`;

/**
 * zod issues as field issues, unknown keys named cut (zod's own message for them quotes each key whole); for a URI's
 * attributes, `positions` (each name's place in its part, `where`) tells the names that are not quoted (attributeShown).
 */
export const issuesOf = (error: z.ZodError, positions?: { readonly of: ReadonlyMap<string, number>; readonly where: string }) =>
  error.issues.map((i) =>
    i.code === 'unrecognized_keys'
      ? {
          path: [...i.path.map(String), i.keys.map((k) => attributeShown(k, positions?.of.get(k), positions?.where ?? '')).join(',')].join('.'),
          rule: i.code,
          message: `not a known attribute (${i.keys.length} such)`,
        }
      : { path: i.path.join('.'), rule: i.code, message: i.message },
  );

const label = (max: number) => z.string().min(1).max(max);
const TokenSelection = z.strictObject({
  // CK_TOKEN_INFO field widths (PKCS#11 v2.40 §3.2): longer values can never match.
  token: label(32),
  manufacturer: label(32).optional(),
  serial: label(16).optional(),
  model: label(16).optional(),
});

/**
 * Review 269: a value in neither form was refused as zod's "Invalid input" (a union drops its members' messages), so
 * the refusal names both forms itself. Never the value: one put here by mistake may be the PIN.
 */
const PIN_SOURCE_FORMS =
  'must be file:/absolute/path or env:NAME (the absolute path of a file holding the PIN, or the name of an environment variable holding it: letters, digits and _, not starting with a digit)';
const PinSource = z.union(
  [
    z.string().max(MAX_PATH_CHARS).regex(/^file:\/[^\0]*$/).transform((s) => ({ source: 'file' as const, path: s.slice('file:'.length) })),
    z.string().max(256).regex(/^env:[A-Za-z_][A-Za-z0-9_]{0,127}$/).transform((s) => ({ source: 'env' as const, name: s.slice('env:'.length) })),
  ],
  { error: PIN_SOURCE_FORMS },
);
export type PinSource = { readonly source: 'file'; readonly path: string } | { readonly source: 'env'; readonly name: string };

const Query = z.strictObject({
  'module-path': z.string().min(1).max(MAX_PATH_CHARS).refine(isAbsolute, 'must be an absolute path'),
  'pin-source': PinSource.optional(),
  'x-derivation': z.enum(['token', 'host']).optional(),
});

export interface Pkcs11Uri {
  readonly token: { readonly label: string; readonly manufacturer?: string; readonly serial?: string; readonly model?: string };
  readonly modulePath: string;
  readonly pin: PinSource;
  /** 'token': every operation in the token, the rest refused; 'host': HKDF/AEAD/X25519 in host memory (docs/hsm.md). */
  readonly derivation: 'token' | 'host';
}

const REFUSED: Record<string, string> = {
  'pin-value': 'a PIN in the URI would end up in shell history, process listings and logs: use pin-source=file:/path or the CREDENCE_PKCS11_PIN environment variable',
  object: 'Credence names its own objects (CKA_ID is the key handle): the URI selects the module and the token only',
  id: 'Credence names its own objects (CKA_ID is the key handle): the URI selects the module and the token only',
  type: 'Credence names its own objects (CKA_ID is the key handle): the URI selects the module and the token only',
};

/**
 * Whether `uri` gives a `pin-value` anywhere: the name followed by `=`, not inside a longer word; or followed by `:`
 * (review 457 F2: `pin-value:PIN`) or `-` (`&pin-value-PIN`) where an attribute name starts (right after `pkcs11:`, or
 * after `;`, `?` or `&`), never after a `:` inside a value (review 462 F4: `token=ACME:pin-value-tests`); in any case,
 * as written or with its percent-escapes decoded one by one (an invalid escape elsewhere must not hide one, review
 * 253). A path or label that only contains the words (`/run/secrets/pin-value:1`, `token=pin-value:prod`) is not a PIN.
 */
const PIN_VALUE = /(^|[^a-z0-9_-])pin-value\s*=|(^pkcs11:|[;?&])pin-value\s*[-:]/i;
const escapesDecoded = (text: string): string => text.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
const namesPinValue = (uri: string): boolean => PIN_VALUE.test(uri) || PIN_VALUE.test(escapesDecoded(uri));

/**
 * An `env:` name written with a percent-escape (`env:OPER%41TOR_PIN`) is refused (review 324): a name never needs one
 * (letters, digits and _), and bin/credence.mjs, which withholds the PIN variables from tsx's esbuild child, must find
 * the very name this parser takes. The `env:` prefix may be escaped (`env%3ANAME`, as encodeURIComponent writes it);
 * the name is what follows the first `:` or `%3A` (neither can come earlier in a value that decodes to `env:`).
 */
const refuseEscapedEnvName = (name: string, written: string, value: string): void => {
  if (name !== 'pin-source' || !value.startsWith('env:')) return;
  const colon = /:|%3a/i.exec(written);
  if (colon !== null && written.slice(colon.index + colon[0].length).includes('%')) {
    throw uriProblem(
      'pin-source',
      'percent_escaped_name',
      'the env: name must be written as it is, without percent-escapes (a name is letters, digits and _, and never needs one)',
    );
  }
};

/** A part's attributes, percent-decoded, and each name's place in it (from 1), to tell a name not quoted. */
interface Attributes {
  readonly values: Record<string, string>;
  readonly positions: { readonly of: ReadonlyMap<string, number>; readonly where: string };
}

const attributes = (part: string, separator: string, where: string): Attributes => {
  const out: Record<string, string> = {};
  const of = new Map<string, number>();
  if (part === '') return { values: out, positions: { of, where } };
  for (const [index, pair] of part.split(separator).entries()) {
    const at = pair.indexOf('=');
    const name = at < 0 ? pair : pair.slice(0, at);
    const refused = Object.hasOwn(REFUSED, name) ? REFUSED[name] : undefined;
    if (refused !== undefined) throw uriProblem(name, 'refused_attribute', refused);
    // Review 457 F2: never quoted, whatever it is: without `=` it may be a PIN pasted whole (`&PIN`, `&pin-value:PIN`).
    if (at < 0) throw uriProblem(where, 'attribute', `attribute ${index + 1} of the ${where} has no value (${pair.length} characters)`);
    of.set(name, index + 1);
    if (Object.hasOwn(out, name)) throw uriProblem(attributeShown(name, index + 1, where), 'unique_attribute', 'appears twice (RFC 7512 §2.3)');
    const written = pair.slice(at + 1);
    try {
      out[name] = decodeURIComponent(written);
    } catch {
      throw uriProblem(attributeShown(name, index + 1, where), 'percent_encoding', 'is not valid percent-encoding (RFC 7512 §2.3)');
    }
    refuseEscapedEnvName(name, written, out[name]);
  }
  return { values: out, positions: { of, where } };
};

/** Parses and checks a PKCS#11 URI; every refusal is a `validation` error naming the attribute (never a PIN). */
export const parsePkcs11Uri = (uri: unknown): Pkcs11Uri => {
  if (typeof uri !== 'string' || !uri.startsWith('pkcs11:')) throw uriProblem('uri', 'scheme', 'must be a string starting with pkcs11:');
  if (uri.length > MAX_URI_CHARS) throw uriProblem('uri', 'too_big', `must be at most ${MAX_URI_CHARS} characters`);
  // Before any split: a PIN anywhere (inside a label, a path, after an `&` in the path part, percent-encoded) would be
  // quoted by a later refusal of that value, and the PIN is never shown (review 250).
  if (namesPinValue(uri)) throw uriProblem('pin-value', 'refused_attribute', REFUSED['pin-value']!);
  if (uri.includes('#')) throw uriProblem('uri', 'fragment', 'has a fragment (#): a PKCS#11 URI has none (RFC 7512 §2.3); percent-encode a # inside a value as %23');
  const rest = uri.slice('pkcs11:'.length);
  const at = rest.indexOf('?');
  const path = attributes(at < 0 ? rest : rest.slice(0, at), ';', 'path');
  const query = attributes(at < 0 ? '' : rest.slice(at + 1), '&', 'query');
  const selection = TokenSelection.safeParse(path.values);
  if (!selection.success) throw validationError(issuesOf(selection.error, path.positions), 'PKCS#11 URI');
  const options = Query.safeParse(query.values);
  if (!options.success) throw validationError(issuesOf(options.error, query.positions), 'PKCS#11 URI');
  const { token, ...rest2 } = selection.data;
  return {
    token: { label: token, ...rest2 },
    modulePath: options.data['module-path'],
    pin: options.data['pin-source'] ?? { source: 'env', name: PIN_ENVIRONMENT_VARIABLE },
    derivation: options.data['x-derivation'] ?? 'token',
  };
};
