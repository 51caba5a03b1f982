import type { FieldIssue } from './errors.ts';
import { DEFAULT_JSON_LIMITS, jsonLimitIssue, type JsonLimits } from './json-limits.ts';

/**
 * RFC 8259 4 leaves an object whose names repeat to each parser (JSON.parse keeps the last value, others the first
 * or refuse), and I-JSON (RFC 7493 2.3) forbids them. A body or file read one way here and another way by a proxy,
 * an auditor's tool or a signer's library would mean two things at once, so input that crosses a boundary names
 * each member once or is refused (SER-001).
 */

interface Frame {
  /** The names seen so far in an object; undefined for an array. */
  readonly names: Set<string> | undefined;
  /** The member name or element index this frame's current value sits under, for the path. */
  at: string | number;
  expectName: boolean;
}

/** Names in a reported path are cut, as in the limits' paths: the path says where, it does not echo the input. */
const MAX_NAME_IN_PATH = 64;
const shown = (name: string): string => (name === '' ? '""' : name.length > MAX_NAME_IN_PATH ? `${name.slice(0, MAX_NAME_IN_PATH)}…` : name);

/** The path to `name` in the innermost frame: each enclosing frame's current name or index, then the name. */
const pathTo = (frames: readonly Frame[], name: string): string =>
  [...frames.slice(0, -1).map((frame) => (typeof frame.at === 'number' ? String(frame.at) : shown(frame.at))), shown(name)].join('.');

/**
 * The end of the string whose opening quote is at `start`: the index of its closing quote. One pass over its
 * characters (found in review: searching for the next quote and backslash again after each escape took time
 * quadratic in a string of escapes, 3 s of a blocked event loop for a 1 MiB body anyone could send).
 */
export const stringEnd = (text: string, start: number): number => {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) i++;
    else if (c === 0x22 /* " */) return i;
  }
  return text.length;
};

/** The path of the value being read: each frame's current name or index. */
const pathHere = (frames: readonly Frame[]): string => frames.map((frame) => (typeof frame.at === 'number' ? String(frame.at) : shown(frame.at))).join('.');

/** A character of a JSON number token (RFC 8259 6): digits, sign, decimal point, exponent. */
const isNumberChar = (c: number): boolean => (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;

export interface JsonTextRules {
  /**
   * Every number token must be exactly the JSON.stringify of the value it parses to (`number_not_canonical`). For
   * text whose meaning is hashed as parsed (an evidence bundle: the leaf hash of RFC 9162 2.1.1 is over the parsed
   * event), where `2.0000000000000001`, `1e-400` or `9007199254740993` would verify as 2, 0 or 9007199254740992 while
   * another tool reads the file as another number (I-JSON, RFC 7493 2.2, asks for values IEEE 754 represents
   * exactly). Text written by JSON.stringify always passes.
   */
  readonly canonicalNumbers?: boolean;
}

/**
 * The first member name that appears twice in one object of `text`, which JSON.parse has already accepted, with its
 * path; undefined when every name is unique in its object. Names are compared as parsed ("a" and "\u0061" are one
 * name). Iterative: any nesting JSON.parse took is walked without recursion. With `rules.canonicalNumbers`, the same
 * single pass also refuses the first number token that is not the serialization of its value (each token is read
 * once: the scan stays linear in the text).
 */
export const duplicateNameIssue = (text: string, rules: JsonTextRules = {}): FieldIssue | undefined => {
  const frames: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A number starts with a minus or a digit (RFC 8259 6); an `e` alone is in `true` or `false`.
    if (rules.canonicalNumbers === true && (c === 0x2d || (c >= 0x30 && c <= 0x39))) {
      let end = i + 1;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      const token = text.slice(i, end);
      if (JSON.stringify(Number(token)) !== token) {
        return {
          path: pathHere(frames),
          rule: 'number_not_canonical',
          message: 'number_not_canonical: a number not written as JSON.stringify writes its value (RFC 7493 2.2), so that another reader could take another value',
        };
      }
      i = end - 1;
    } else if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      const top = frames[frames.length - 1];
      if (top?.names !== undefined && top.expectName) {
        const raw = text.slice(i + 1, end);
        const name = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        if (top.names.has(name)) {
          return { path: pathTo(frames, name), rule: 'duplicate_name', message: 'names a member its object names already (RFC 7493 2.3): give each name once' };
        }
        top.names.add(name);
        top.at = name;
        top.expectName = false;
      }
      i = end;
    } else if (c === 0x7b /* { */) {
      frames.push({ names: new Set(), at: '', expectName: true });
    } else if (c === 0x5b /* [ */) {
      frames.push({ names: undefined, at: 0, expectName: false });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      frames.pop();
    } else if (c === 0x2c /* , */) {
      const top = frames[frames.length - 1]!;
      if (top.names !== undefined) top.expectName = true;
      else top.at = (top.at as number) + 1;
    }
  }
  return undefined;
};

/**
 * Why JSON.parse refused a text, when its words name nothing of the text but an offset and the grammar's own tokens
 * (`Unterminated string in JSON at position 4096`, `Expected ',' or '}' after property value ...`): a file cut short
 * said only "is not JSON" (review 372). Undefined where they quote the text (`Unexpected token 'x', "..." is not
 * valid JSON`): a refusal may be printed or logged where the file's content must not be.
 */
const contentFreeParseReason = (error: unknown): string | undefined => {
  const message = error instanceof Error ? error.message : undefined;
  if (message === undefined || message.length > 200) return undefined;
  return /["'`]/.test(message.replace(/'[,:{}[\]]'/g, '')) ? undefined : message;
};

/**
 * JSON text as a boundary reads it before any schema: parsed (V8's JSON.parse is iterative), within `limits`, each
 * member name once per object. Refused with the issue, or with none when the text is not JSON at all (then with
 * JSON.parse's reason, where it quotes nothing of the text).
 */
export const readJsonText = (
  text: string,
  limits: JsonLimits = DEFAULT_JSON_LIMITS,
  rules: JsonTextRules = {},
): { ok: true; value: unknown } | { ok: false; issue?: FieldIssue; parseReason?: string } => {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const parseReason = contentFreeParseReason(error);
    return parseReason === undefined ? { ok: false } : { ok: false, parseReason };
  }
  const issue = jsonLimitIssue(value, limits) ?? duplicateNameIssue(text, rules);
  return issue === undefined ? { ok: true, value } : { ok: false, issue };
};

/**
 * `readJsonText` of a text that has a name to give in its refusal (a file, a pasted policy): the CLI and the console
 * refuse the same texts with the same words. A refusal by one of the issues' rules (max_depth, max_values,
 * number_not_canonical, duplicate_name) names it as `rule`, for a caller to decide by it and never by the words (review
 * 451: verify's --max-bundle-mib advice followed the words of max_values).
 */
export const readNamedJsonText = (
  name: string,
  text: string,
  limits: JsonLimits = DEFAULT_JSON_LIMITS,
  rules: JsonTextRules = {},
): { ok: true; value: unknown } | { ok: false; message: string; rule?: string } => {
  // JSON.parse refuses a leading U+FEFF as it refuses any text that is not JSON; said as such, since "is not JSON" of a
  // file that looks like JSON in every editor sent the reader looking at the wrong thing (review 159).
  if (text.startsWith('\uFEFF')) return { ok: false, message: `${name} starts with a UTF-8 byte-order mark, which JSON does not allow (RFC 8259 8.1): save it without one` };
  const read = readJsonText(text, limits, rules);
  if (read.ok) return read;
  if (read.issue !== undefined) return { ok: false, rule: read.issue.rule, message: `${name}: ${read.issue.path || '(root)'}: ${read.issue.message}` };
  return { ok: false, message: read.parseReason === undefined ? `${name} is not JSON` : `${name} is not JSON (${read.parseReason})` };
};
