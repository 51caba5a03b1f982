import { statSync } from 'node:fs';
import { isCredenceError, validationError } from '../../domain/errors.ts';
import { duplicateNameIssue } from '../../domain/json-duplicate-names.ts';
import { assertJsonWithin } from '../../domain/json-limits.ts';
import { readTrustedTextFileOrPipe, type FileRefusal } from '../runtime/bounded-files.ts';

const MAX_CONFIG_FILE_BYTES = 64 * 1024;

/** How long a config file given as a pipe (`--config <(envsubst …)`) is waited for, as a token file's is. */
export const CONFIG_PIPE_WAIT_MS = 5_000;

/** What a system error code means for a file named to be read; the code itself for any other. */
const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'it does not exist',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of its path is not a folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'its name is too long',
};

/**
 * Why the system refused to read the file, from the errno `code` the reader gives (bounded-files' `unreadable`).
 * Review 298 item 4: "cannot be read" alone left the operator to find out whether it was missing, a folder or private.
 */
const whyUnreadable = (code: string | undefined): string => {
  if (code === undefined) return 'the system gave no reason';
  return REASONS[code] === undefined ? code : `${REASONS[code]} (${code})`;
};

const isFolder = (file: string): boolean => {
  try {
    return statSync(file, { throwIfNoEntry: false })?.isDirectory() === true;
  } catch {
    return false; // the reader says why (EACCES, ELOOP, …)
  }
};

/**
 * The rule and message of the reader's refusal, told by its `kind` and never by its message, which names the file
 * (a missing file whose name held `invalid_utf8` was said not to be UTF-8): the file's own problem (`readable`,
 * `max_bytes`), or the rule it breaks (`trusted_file`). A text read gives no `content` refusal: said as given if ever.
 */
const refusalOf = (read: FileRefusal & { readonly message: string }, pipeWaitMs: number): { rule: string; message: string } => {
  switch (read.kind) {
    case 'unreadable':
      return { rule: 'readable', message: `cannot be read: ${whyUnreadable(read.code)}` };
    case 'invalid_utf8':
      return { rule: 'readable', message: 'cannot be read: it is not valid UTF-8 text (RFC 8259 8.1)' };
    case 'too_large':
      return { rule: 'max_bytes', message: `larger than ${MAX_CONFIG_FILE_BYTES} bytes` };
    case 'unwritten':
      return {
        rule: 'readable',
        message: `is a pipe nothing wrote a whole file to within ${pipeWaitMs / 1000} s: write it there and close it (as <(cat FILE) does), or name the file itself`,
      };
    case 'trusted_file':
    case 'content':
      return { rule: 'trusted_file', message: read.message };
  }
};

/** Where a JSON text breaks (an offset into it, in UTF-16 units) and what was expected there, in words. */
interface JsonBreak {
  readonly at: number;
  readonly why: string;
}

const JSON_NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const JSON_WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const ESCAPED = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

/**
 * The first place `text` is not JSON (RFC 8259), or undefined where it is. Read without recursion, so a file of
 * nothing but `[` (up to its 64 KiB) is told as any other. Only what JSON.parse refused is read: its own messages give
 * a position for some breaks, none for others, and quote the text for some (a configuration may hold a password).
 */
const jsonBreakIn = (text: string): JsonBreak | undefined => {
  let i = 0;
  const open: ('{' | '[')[] = [];
  let expect: 'value' | 'value_or_end' | 'name' | 'name_or_end' | 'after' = 'value';
  const skipWhitespace = (): void => {
    while (i < text.length && JSON_WHITESPACE.has(text[i]!)) i++;
  };
  /** The string starting at `i` (a `"`) read past its end; where it breaks if it does. */
  const string = (): JsonBreak | undefined => {
    const start = i;
    for (i++; i < text.length; ) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c < 0x20) return { at: i, why: 'a control character (a line break, a tab) inside a string, where JSON takes it only escaped (\\n, \\t)' };
      if (c !== 0x5c) {
        i++;
        continue;
      }
      const escape = text[i + 1];
      if (escape === 'u' ? !/^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6)) : escape === undefined || !ESCAPED.has(escape)) {
        return { at: i, why: 'a backslash in a string that starts no JSON escape (\\\\, \\", \\n, \\uXXXX, …)' };
      }
      i += escape === 'u' ? 6 : 2;
    }
    return { at: start, why: 'a string that does not end (no closing double quote)' };
  };
  for (;;) {
    skipWhitespace();
    if (i >= text.length) return expect === 'after' && open.length === 0 ? undefined : { at: i, why: 'the file ends before the JSON does' };
    const c = text[i]!;
    if (expect === 'after') {
      const inside = open.at(-1);
      if (inside === undefined) return { at: i, why: 'expected nothing more after the JSON value' };
      if (c === ',') {
        i++;
        expect = inside === '{' ? 'name' : 'value';
      } else if (c === (inside === '{' ? '}' : ']')) {
        i++;
        open.pop();
      } else return { at: i, why: inside === '{' ? "expected ',' or '}'" : "expected ',' or ']'" };
      continue;
    }
    if (expect === 'name' || expect === 'name_or_end') {
      if (expect === 'name_or_end' && c === '}') {
        i++;
        open.pop();
        expect = 'after';
        continue;
      }
      if (c !== '"') return { at: i, why: 'expected a property name in double quotes' };
      const broken = string();
      if (broken !== undefined) return broken;
      skipWhitespace();
      if (text[i] !== ':') return { at: i, why: "expected ':' after the property name" };
      i++;
      expect = 'value';
      continue;
    }
    if (expect === 'value_or_end' && c === ']') {
      i++;
      open.pop();
      expect = 'after';
      continue;
    }
    expect = 'after';
    if (c === '{' || c === '[') {
      open.push(c);
      i++;
      expect = c === '{' ? 'name_or_end' : 'value_or_end';
      continue;
    }
    if (c === '"') {
      const broken = string();
      if (broken !== undefined) return broken;
      continue;
    }
    const literal = ['true', 'false', 'null'].find((word) => text.startsWith(word, i));
    if (literal !== undefined) {
      i += literal.length;
      continue;
    }
    JSON_NUMBER.lastIndex = i;
    const number = JSON_NUMBER.exec(text);
    if (number === null) return { at: i, why: 'expected a value (an object, an array, a string in double quotes, a number, true, false or null)' };
    i += number[0].length;
  }
};

/**
 * "is not valid JSON" with the line and column (1-based, counted in characters) where it breaks and what was expected
 * there, in words and quoting none of the text (review 373 item 4: no place was said; a file may hold a password).
 */
const notJsonMessage = (text: string): string => {
  const found = jsonBreakIn(text);
  if (found === undefined) return 'is not valid JSON';
  const before = text.slice(0, found.at);
  const lineStart = before.lastIndexOf('\n') + 1;
  const line = before.split('\n').length;
  const column = [...before.slice(lineStart)].length + 1;
  return `is not valid JSON: line ${line}, column ${column}: ${found.why}`;
};

/**
 * The configuration file decides what the service trusts (review 324 item 1: whoever may write it drops `signing`,
 * or points the PKCS#11 module-path at a library of theirs), so it is read as every such file is (trusted-file.ts):
 * a regular file, it and the folders above it this account's or root's and not writable by group or others, read
 * through the descriptor that was checked and bounded while read. A pipe (`--config <(envsubst < credence.json)`) is
 * read too, as the reader before did on purpose (review 333), held to who may write it and its folders as a file is,
 * and waited for at most `pipeWaitMs`.
 */
export const readConfigFile = (file: string, pipeWaitMs: number = CONFIG_PIPE_WAIT_MS): unknown => {
  const where = `file ${file}`;
  // Said as before (review 298 item 4), ahead of the trusted-file rule's "name the file itself".
  if (isFolder(file)) {
    throw validationError([{ path: where, rule: 'readable', message: `cannot be read: ${REASONS['EISDIR']} (EISDIR)` }], 'service configuration');
  }
  const read = readTrustedTextFileOrPipe(file, MAX_CONFIG_FILE_BYTES, pipeWaitMs);
  if (!read.ok) throw validationError([{ path: where, ...refusalOf(read, pipeWaitMs) }], 'service configuration');
  const text = read.value;
  // Refused, not skipped: no other JSON file Credence reads takes one (bounded-files.ts keeps it for the parser to
  // judge), and JSON.parse's "not valid JSON" did not say why.
  if (text.startsWith('\uFEFF')) {
    throw validationError([{ path: where, rule: 'byte_order_mark', message: 'starts with a byte-order mark (U+FEFF), which JSON does not allow: save it as UTF-8 without one' }], 'service configuration');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw validationError([{ path: where, rule: 'json', message: notJsonMessage(text) }], 'service configuration');
  }
  try {
    assertJsonWithin(value, 'service configuration file');
  } catch (error) {
    // Named like every other refusal of the file: `file X: a.b.c: nested deeper than …`.
    if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw error;
    throw validationError(error.problem.issues.map((i) => ({ ...i, path: `${where}: ${i.path || '(root)'}` })), 'service configuration');
  }
  const duplicate = duplicateNameIssue(text);
  if (duplicate !== undefined) throw validationError([{ ...duplicate, path: `${where}: ${duplicate.path}` }], 'service configuration');
  return value;
};
