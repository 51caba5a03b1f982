import type { FieldIssue } from '../../domain/errors.ts';
import type { JsonLimits } from '../../domain/json-limits.ts';
import { stringEnd } from '../../domain/json-duplicate-names.ts';

/*
 * SER-001 "no cheap way to exhaust the service": a body's depth and value count are judged on its text, before it is
 * parsed, in one pass that stops at the first breach. Judged after JSON.parse (jsonLimitIssue), a 960,000-byte body of
 * nested brackets cost 200 ms of a blocked event loop before its 400, and four senders within the rate limit slowed
 * every other client tenfold (found in review). The pass also refuses the member names that would reach an object's
 * prototype, naming where they are (secure-json-parse refused them as text that is not JSON).
 */

interface Frame {
  /** True for an object, whose items are members; false for an array. */
  readonly object: boolean;
  /** An array's index of the item being read; an object's member name being read, as its quoted text's bounds. */
  index: number;
  nameStart: number;
  nameEnd: number;
  /** The member being read is named `constructor`: decided once, when its name is read, not again per child. */
  isConstructor: boolean;
  /** Before an item: just after the opening bracket or a comma. */
  awaitingItem: boolean;
  expectName: boolean;
}

/** Keys in a reported path are cut, as jsonLimitIssue cuts them: the path names where, it does not echo the input. */
const MAX_KEY_IN_PATH = 64;

/** The name of the member whose quoted text is `text[start..end]` (both quotes), as JSON.parse reads it. */
const nameAt = (text: string, start: number, end: number): string => {
  const raw = text.slice(start + 1, end);
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(text.slice(start, end + 1)) as string;
  } catch {
    return raw; // not JSON: refused by the parse that follows, whatever the path says
  }
};

/** The name being read is `expected`, compared without copying it unless it holds an escape. */
const nameIs = (text: string, frame: Frame, expected: string): boolean => {
  const length = frame.nameEnd - frame.nameStart - 1;
  if (length === expected.length && text.startsWith(expected, frame.nameStart + 1)) return true;
  // An escape makes the text longer than the name it stands for ("\u005f_proto__"), at most six characters for one
  // (\uXXXX): a longer name is another, and is not copied (review 77: every long escaped name parsed again).
  return (
    length > expected.length &&
    length <= 6 * expected.length &&
    text.slice(frame.nameStart + 1, frame.nameEnd).includes('\\') &&
    nameAt(text, frame.nameStart, frame.nameEnd) === expected
  );
};

const pathOf = (text: string, frames: readonly Frame[]): string =>
  frames
    .map((frame) => {
      const key = frame.object ? nameAt(text, frame.nameStart, frame.nameEnd) : String(frame.index);
      return key.length > MAX_KEY_IN_PATH ? `${key.slice(0, MAX_KEY_IN_PATH)}…` : key;
    })
    .join('.');

const isWhitespace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** A member name refused wherever it is: JSON.parse makes it an own property that code may take for the prototype. */
const forbidden = (text: string, frames: readonly Frame[]): FieldIssue => ({
  path: pathOf(text, frames),
  rule: 'forbidden_name',
  message: 'a member named __proto__, or constructor holding prototype, is refused wherever it is: it could reach an object\'s prototype',
});

/**
 * The first way the JSON text `text` breaks `limits` (rules `max_depth` and `max_values`, worded as jsonLimitIssue
 * words them, with the path to the container), or names a member `__proto__` or `constructor.prototype`
 * (`forbidden_name`, with the member's path); undefined when it does neither. Reads the text once, up to the breach,
 * allocating a frame per level (at most `limits.maxDepth`). The verdict on JSON text is jsonLimitIssue's on its parsed
 * value (accepted or refused, and by which rule), but the path may differ: a text that breaks the limits in more than
 * one place is refused at the first in the text, and values are counted one at a time in text order where the walk
 * counts a container's children when it visits it (review 77: `[[1,2],3,4]` over 5 values is named at the body here,
 * at `0` by the walk). Text that is not JSON is judged as far as it goes; the parse that follows refuses it.
 */
export const bodyShapeIssue = (text: string, limits: JsonLimits): FieldIssue | undefined => {
  const frames: Frame[] = [];
  let values = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isWhitespace(c)) continue;
    const top = frames[frames.length - 1];
    if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      frames.pop();
      continue;
    }
    if (c === 0x2c /* , */) {
      if (top !== undefined) {
        top.awaitingItem = true;
        if (top.object) top.expectName = true;
        else top.index++;
      }
      continue;
    }
    // The start of an item (an element, or a member at its name) or of the top-level value: one more value.
    if (top === undefined ? values === 0 : top.awaitingItem) {
      if (top !== undefined) top.awaitingItem = false;
      // Named at the container that holds the item, as the walk names it.
      if (++values > limits.maxValues) return { path: pathOf(text, frames.slice(0, -1)), rule: 'max_values', message: `more than ${limits.maxValues} JSON values` };
    }
    if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      if (top?.expectName === true) {
        top.nameStart = i;
        top.nameEnd = end;
        top.expectName = false;
        if (nameIs(text, top, '__proto__')) return forbidden(text, frames);
        // The parent's name was judged once, when it was read (review 77: judged again for each of its members, a long
        // escaped name under thousands of `prototype` members cost seconds, before any token was asked for).
        const parent = frames[frames.length - 2];
        if (parent?.isConstructor === true && nameIs(text, top, 'prototype')) return forbidden(text, frames);
        top.isConstructor = nameIs(text, top, 'constructor');
      }
      i = end;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (frames.length + 1 > limits.maxDepth) return { path: pathOf(text, frames), rule: 'max_depth', message: `nested deeper than ${limits.maxDepth} levels` };
      const object = c === 0x7b;
      frames.push({ object, index: 0, nameStart: 0, nameEnd: 0, isConstructor: false, awaitingItem: true, expectName: object });
    }
  }
  return undefined;
};
