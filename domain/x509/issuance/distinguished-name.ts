import * as asn1js from 'asn1js';

/**
 * A CA's subject from its RFC 4514 text (`credence ca init --subject`), read strictly and encoded so that every
 * relying party can load it: the attribute types Credence knows, each value checked against its syntax and its
 * upper bound (RFC 5280 4.1.2.4, 4.1.2.6, Appendix A).
 */

/**
 * The attribute types a CA subject may name, with the syntax and upper bound X.520 gives them as RFC 5280 Appendix A
 * states them (ub-*). Any other type is refused: its syntax is unknown here, so no encoding of its value could be
 * promised to load in a relying party (an `1.2.3.4=#0500` made a certificate OpenSSL cannot read). Countries and
 * serial numbers are PrintableString only; domainComponent is IA5String (RFC 4519 2.4), bounded here by a DNS label
 * (RFC 1035 2.3.4); the rest are DirectoryString, encoded as RFC 5280 4.1.2.6 asks: PrintableString when every
 * character allows it (what @peculiar/x509 chose before, so existing names keep their bytes), else UTF8String.
 */
type AttributeSyntax = 'directory' | 'printable' | 'country' | 'ia5';
interface AttributeSpec {
  readonly name: string;
  readonly oid: string;
  readonly syntax: AttributeSyntax;
  readonly upperBound: number;
  readonly bound: string;
}
const ATTRIBUTES: readonly AttributeSpec[] = [
  { name: 'CN', oid: '2.5.4.3', syntax: 'directory', upperBound: 64, bound: 'ub-common-name' },
  { name: 'surname', oid: '2.5.4.4', syntax: 'directory', upperBound: 32768, bound: 'ub-name' },
  { name: 'serialNumber', oid: '2.5.4.5', syntax: 'printable', upperBound: 64, bound: 'ub-serial-number' },
  { name: 'C', oid: '2.5.4.6', syntax: 'country', upperBound: 2, bound: 'ub-country-name-alpha-length' },
  { name: 'L', oid: '2.5.4.7', syntax: 'directory', upperBound: 128, bound: 'ub-locality-name' },
  { name: 'ST', oid: '2.5.4.8', syntax: 'directory', upperBound: 128, bound: 'ub-state-name' },
  { name: 'O', oid: '2.5.4.10', syntax: 'directory', upperBound: 64, bound: 'ub-organization-name' },
  { name: 'OU', oid: '2.5.4.11', syntax: 'directory', upperBound: 64, bound: 'ub-organizational-unit-name' },
  { name: 'title', oid: '2.5.4.12', syntax: 'directory', upperBound: 64, bound: 'ub-title' },
  { name: 'name', oid: '2.5.4.41', syntax: 'directory', upperBound: 32768, bound: 'ub-name' },
  { name: 'givenName', oid: '2.5.4.42', syntax: 'directory', upperBound: 32768, bound: 'ub-name' },
  { name: 'initials', oid: '2.5.4.43', syntax: 'directory', upperBound: 32768, bound: 'ub-name' },
  { name: 'generationQualifier', oid: '2.5.4.44', syntax: 'directory', upperBound: 32768, bound: 'ub-name' },
  { name: 'pseudonym', oid: '2.5.4.65', syntax: 'directory', upperBound: 128, bound: 'ub-pseudonym' },
  { name: 'DC', oid: '0.9.2342.19200300.100.1.25', syntax: 'ia5', upperBound: 63, bound: 'a DNS label, RFC 1035 2.3.4' },
];
const ALIASES: Readonly<Record<string, string>> = {
  commonname: 'CN', countryname: 'C', localityname: 'L', stateorprovincename: 'ST', organizationname: 'O',
  organizationalunitname: 'OU', domaincomponent: 'DC',
};
const attributeOf = (type: string): AttributeSpec | undefined => {
  const key = type.toLowerCase();
  const name = (ALIASES[key] ?? key).toLowerCase();
  return ATTRIBUTES.find((a) => a.name.toLowerCase() === name || a.oid === type);
};

/** Why a subject's text is no distinguished name Credence will sign (`NameRefusal.rule`). */
export type NameRule =
  | 'empty_name'
  | 'too_long'
  | 'not_type_value'
  | 'unknown_attribute'
  | 'hex_value'
  | 'bad_escape'
  | 'unescaped_special'
  | 'control_character'
  | 'empty_value'
  | 'upper_bound'
  | 'printable_string'
  | 'country_code'
  | 'ia5_string'
  | 'repeated_in_rdn';
/** A refusal names the attribute (its short name, never the value) and the rule; `message` is for a person. */
export interface NameRefusal {
  readonly attribute?: string;
  readonly rule: NameRule;
  readonly message: string;
}

/** The CLI takes at most this much (`--subject`); a name is parsed by hand, so the domain bounds it too. */
export const MAX_NAME_TEXT = 1024;
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
/** RFC 4514 2.4: characters a value may only carry escaped; `\` before anything else is no escape. */
const ESCAPABLE = ' "#+,;<=>\\';
/**
 * Characters no CA subject carries: C0 and C1 controls (a newline made @peculiar/x509 drop the whole value, `\00`
 * is a NUL that truncates names in C relying parties), line and paragraph separators, and the bidirectional
 * overrides and isolates that make a name display as another (Unicode UAX #9).
 */
const FORBIDDEN = /[\p{Cc}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069]/u;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

type Parsed = { readonly spec: AttributeSpec; readonly value: string };

/**
 * RFC 4514 section 3 by hand, since @peculiar/x509 reads leniently (it accepted `#`-hex BER values and encoded them
 * as text, dropped a value holding a newline, and turned `\2C` into `2C`). One `type=value` per attribute, `,`
 * between RDNs and `+` within one; spaces around types, `=` and separators are ignored (leading and trailing spaces
 * of a value are kept only escaped, `\ `); escapes are `\` and a special character, or `\` and two hex digits, one
 * UTF-8 byte each. The RDNs are encoded in the order written, as @peculiar/x509 did (names already issued keep
 * their bytes).
 */
const parseRdns = (text: string): Parsed[][] | NameRefusal => {
  const rdns: Parsed[][] = [];
  let rdn: Parsed[] = [];
  let i = 0;
  const skipSpaces = () => {
    while (text[i] === ' ') i += 1;
  };
  for (;;) {
    skipSpaces();
    const equals = text.indexOf('=', i);
    const type = (equals < 0 ? '' : text.slice(i, equals)).trim();
    if (equals < 0 || !/^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)$/.test(type)) {
      return { rule: 'not_type_value', message: `RDN ${rdns.length + 1} is not type=value (RFC 4514 3)` };
    }
    const spec = attributeOf(type);
    if (spec === undefined) {
      return {
        rule: 'unknown_attribute',
        message: `attribute type ${JSON.stringify(type.slice(0, 32))} is not one Credence signs (${ATTRIBUTES.map((a) => a.name).join(', ')})`,
      };
    }
    i = equals + 1;
    skipSpaces();
    const refuse = (rule: NameRule, message: string): NameRefusal => ({ attribute: spec.name, rule, message: `${spec.name}: ${message}` });
    if (text[i] === '#') return refuse('hex_value', 'a #-hex BER value is not accepted: write the value as text (RFC 4514 2.4)');
    const bytes: number[] = [];
    let kept = 0; // bytes up to the last escaped or non-space character: unescaped trailing spaces are dropped
    for (; i < text.length && text[i] !== ',' && text[i] !== '+'; i += 1) {
      const c = text[i] as string;
      if (c === '\\') {
        const next = text.slice(i + 1, i + 3);
        if (/^[0-9A-Fa-f]{2}$/.test(next)) {
          bytes.push(Number.parseInt(next, 16));
          i += 2;
        } else if (next !== '' && ESCAPABLE.includes(next[0] as string)) {
          bytes.push(next.charCodeAt(0));
          i += 1;
        } else return refuse('bad_escape', 'a backslash must be followed by a space, one of "#+,;<=>\\ or two hex digits (RFC 4514 2.4)');
        kept = bytes.length;
        continue;
      }
      if ('";<>'.includes(c)) return refuse('unescaped_special', `${JSON.stringify(c)} must be escaped with a backslash (RFC 4514 2.4)`);
      const char = String.fromCodePoint(text.codePointAt(i) as number);
      // TextEncoder would turn a lone surrogate into U+FFFD: another value than the one given.
      if (LONE_SURROGATE.test(char)) return refuse('bad_escape', 'holds a lone UTF-16 surrogate, which is no character');
      i += char.length - 1;
      bytes.push(...utf8.encode(char));
      if (c !== ' ') kept = bytes.length;
    }
    let value: string;
    try {
      value = strictUtf8.decode(new Uint8Array(bytes.slice(0, kept)));
    } catch {
      return refuse('bad_escape', 'its \\XX escapes are not UTF-8 (RFC 4514 2.4)');
    }
    const checked = checkValue(spec, value);
    if (checked !== undefined) return refuse(checked.rule, checked.message);
    if (rdn.some((p) => p.spec === spec)) return refuse('repeated_in_rdn', 'appears twice in one multi-valued RDN');
    rdn.push({ spec, value });
    if (i >= text.length) break;
    if (text[i] === ',') {
      rdns.push(rdn);
      rdn = [];
    }
    i += 1;
  }
  rdns.push(rdn);
  return rdns;
};

/** RFC 5280 4.1.2.4: a DirectoryString is SIZE (1..ub); X.520 and RFC 5280 Appendix A give each type's syntax. */
const checkValue = (spec: AttributeSpec, value: string): { rule: NameRule; message: string } | undefined => {
  if (FORBIDDEN.test(value)) return { rule: 'control_character', message: 'holds a control, line-separator or bidirectional-override character' };
  if (value === '') return { rule: 'empty_value', message: 'is empty (RFC 5280 4.1.2.4: SIZE (1..ub))' };
  const length = [...value].length;
  if (spec.syntax === 'country') {
    return /^[A-Z]{2}$/.test(value) ? undefined : { rule: 'country_code', message: 'must be two capital letters, an ISO 3166-1 alpha-2 code (X.520 countryName, RFC 5280 Appendix A)' };
  }
  if (length > spec.upperBound) return { rule: 'upper_bound', message: `is ${length} characters, at most ${spec.upperBound} (${spec.bound}, RFC 5280 Appendix A)` };
  if (spec.syntax === 'printable' && !PRINTABLE.test(value)) return { rule: 'printable_string', message: "must be a PrintableString: letters, digits, space and '()+,-./:=?" };
  if (spec.syntax === 'ia5' && !/^[\x20-\x7E]+$/.test(value)) return { rule: 'ia5_string', message: 'must be ASCII (IA5String, RFC 4519 2.4)' };
  return undefined;
};

const encodedValue = (spec: AttributeSpec, value: string): asn1js.AsnType => {
  if (spec.syntax === 'ia5') return new asn1js.IA5String({ value });
  if (spec.syntax !== 'directory' || PRINTABLE.test(value)) return new asn1js.PrintableString({ value });
  return new asn1js.Utf8String({ value });
};

/** X.690 11.6: a DER SET OF is sorted by its members' encodings, a shorter one as if padded with zero octets. */
const derOrder = (a: Uint8Array, b: Uint8Array): number => {
  for (let k = 0; k < Math.max(a.length, b.length); k += 1) {
    const d = (a[k] ?? 0) - (b[k] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
};

/**
 * A distinguished name from its RFC 4514 text (`CN=Credence Root CA,O=Example`), or why it is none Credence signs:
 * the parse of `parseRdns`, each value checked against its attribute's syntax and bound. Never echoes a value.
 */
export const parseDistinguishedName = (text: string): { readonly ok: true; readonly der: Uint8Array } | ({ readonly ok: false } & NameRefusal) => {
  if (text.length > MAX_NAME_TEXT) return { ok: false, rule: 'too_long', message: `longer than ${MAX_NAME_TEXT} characters` };
  // RFC 5280 4.1.2.6: a CA's subject is a non-empty distinguished name.
  if (text.trim() === '') return { ok: false, rule: 'empty_name', message: 'is empty: a CA needs a subject (RFC 5280 4.1.2.6)' };
  const rdns = parseRdns(text);
  if (!Array.isArray(rdns)) return { ok: false, ...rdns };
  const rdnSets = rdns.map((rdn) => {
    const members = rdn
      .map((p) => new Uint8Array(new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: p.spec.oid }), encodedValue(p.spec, p.value)] }).toBER()))
      .sort(derOrder);
    return new asn1js.Set({ value: members.map((m) => asn1js.fromBER(m).result) });
  });
  return { ok: true, der: new Uint8Array(new asn1js.Sequence({ value: rdnSets }).toBER()) };
};

/** `parseDistinguishedName` for callers that treat a bad name as their mistake: a TypeError names what is wrong. */
export const nameFromText = (text: string): Uint8Array => {
  const parsed = parseDistinguishedName(text);
  if (!parsed.ok) throw new TypeError(`not a distinguished name: ${parsed.message}`);
  return parsed.der;
};
