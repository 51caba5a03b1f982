/**
 * Review 245 item 5: the CLI escaped only control characters in text it did not write itself, so a hostile server or
 * proxy could print a bidi override (U+202E: `exe.txt` shown as `txt.exe`), an isolate, a zero-width space or a tag
 * character raw, in plain and --json output. The characters the domain refuses in stored text
 * (domain/commands/printable-text.ts) are now shown as code point escapes like the controls; the joiners and variation
 * selectors the domain lets through within visible text (an emoji sequence, a Persian word) print as they are, and the
 * --json output still parses to the server's own document.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { printable, printableCsv, printableJson } from '../bin/printable.ts';
import { problemServer } from './support/canned-server.ts';
import { capture } from './support/cli.ts';

/** What the domain refuses and a terminal would not show as it is: bidi override and isolate, zero-width space, BOM, tag. */
const HIDDEN = /[\u202a-\u202e\u2066-\u2069\u200b\u200e\u200f\ufeff\u2060\u{e0000}-\u{e007f}]/u;
const SPOOF = {
  type: 'about:blank',
  title: 'Conflict \u202Etxt.exe\u202C',
  status: 409,
  detail: 'state is re\u200Bvoked \u2066isolated\u2069 \uFEFFtag\u{E0041}',
  // Visible text the domain takes: a heart with its emoji selector, a family joined by ZWJ, a Persian word with ZWNJ.
  kept: '\u2764\uFE0F \u{1F468}\u200D\u{1F469}\u200D\u{1F467} \u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645',
};

describe('format characters a server sent', () => {
  const refusing = problemServer(409);
  const cli = async (argv: string[]) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env: { CREDENCE_URL: refusing.url, CREDENCE_TOKEN: 'a.b.c' } });
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  };

  it('are shown as code points in plain output, and shaping characters within visible text are kept', async () => {
    refusing.body = JSON.stringify(SPOOF);
    const plain = await cli(['projections']);
    expect(plain.code).toBe(1);
    expect(plain.err).not.toMatch(HIDDEN);
    expect(plain.err).toContain('refused: Conflict \\u202etxt.exe\\u202c (409)');
    expect(plain.err).toContain('state is re\\u200bvoked \\u2066isolated\\u2069 \\ufefftag\\udb40\\udc41');
    expect(plain.err).toContain(`kept: ${SPOOF.kept}`);
  });

  it('are shown as code points with --json too, and the JSON is the server’s document', async () => {
    refusing.body = JSON.stringify(SPOOF);
    const json = await cli(['projections', '--json']);
    expect(json.code).toBe(1);
    expect(json.out).not.toMatch(HIDDEN);
    expect(json.out).toContain('\\u202etxt.exe\\u202c');
    expect(JSON.parse(json.out)).toEqual(SPOOF);
  });
});

describe('printable, printableJson and printableCsv', () => {
  it('escape a lone joiner, a selector after a space, and a lone surrogate; keep them within visible text', () => {
    expect(printable('node-1\u200D')).toBe('node-1\\u200d');
    expect(printable('a \uFE0F')).toBe('a \\ufe0f');
    expect(printable('x\uD800y')).toBe('x\\ud800y');
    expect(printable('a\u200Db')).toBe('a\u200Db');
    expect(printable('\u00E9\u00AD')).toBe('\u00E9\u00AD');
  });

  it('printableJson leaves the line breaks of indented JSON, and printableCsv its record ends', () => {
    const text = JSON.stringify({ a: '\u202E\u0085' }, undefined, 2);
    expect(printableJson(text)).toBe('{\n  "a": "\\u202e\\u0085"\n}');
    expect(printableCsv('a,"b\u202E\nc"\r\nd,e\n')).toBe('a,"b\\u202e\\u000ac"\r\nd,e\n');
  });
});
