import { constants } from 'node:buffer';
import { DEFAULT_JSON_LIMITS, type JsonLimits } from '../domain/json-limits.ts';

/**
 * Files a command reads from its arguments are bounded in bytes while they are read, before anything parses them,
 * and JSON files in depth and size before any schema walks them (SER-001): an oversized or deeply nested file is
 * malformed input with a message naming the limit, never an exhausted heap or a stack overflow.
 */

/** Byte limits by what a file holds, each far above what a real one needs. */
export const FILE_LIMITS = {
  /** An evidence bundle: a stream's whole history, thousands of events with their proofs. */
  bundle: 64 * 1024 * 1024,
  /** One event, one proof, a request-signing policy. */
  json: 1024 * 1024,
  /** A signed checkpoint note: a few lines and at most 100 signature lines. */
  note: 64 * 1024,
  /** A log verifier key: one line. */
  key: 4 * 1024,
  /** A bearer token (`--token-file`): one line of at most 8,192 characters. */
  token: 16 * 1024,
} as const;

const MIB = 1024 * 1024;

/**
 * The longest text V8 holds as one string (2^29 - 24 code units in Node 20): a bundle is parsed as one JSON text, so
 * no bound above it can be met, and `credence export` can write no longer one (JSON.stringify makes one string).
 */
const LONGEST_TEXT = constants.MAX_STRING_LENGTH;

/**
 * `credence verify FILE.json --max-bundle-mib N`: FILE_LIMITS.bundle is what it reads unless the auditor raises it
 * deliberately, for the bundle of a long stream `credence export` wrote (review 217: 24,000 events were 77 MB, refused
 * as bad input). Verifying takes some seven times the bundle's size in memory (the text, the parsed values, the
 * events decoded: 3.4 GB at peak for 502 MiB, 300,000 events, within Node's default heap on a 23 GB host), so the bound
 * stays the caller's choice. 512 MiB is the most one JSON text can be (LONGEST_TEXT).
 */
export const BUNDLE_MIB = { default: FILE_LIMITS.bundle / MIB, max: 512 } as const;

/** What a bundle may hold within `mib` MiB: its bytes, and its JSON values in proportion (as many per byte as by default). */
export const bundleBound = (mib: number): { readonly maxBytes: number; readonly limits: JsonLimits } => ({
  maxBytes: Math.min(mib * MIB, LONGEST_TEXT),
  limits: { ...DEFAULT_JSON_LIMITS, maxValues: Math.ceil((DEFAULT_JSON_LIMITS.maxValues * mib) / BUNDLE_MIB.default) },
});

/**
 * The `--max-bundle-mib` that reads a bundle of `bytes` (its size in MiB rounded up), or undefined when none does: past
 * BUNDLE_MIB.max or LONGEST_TEXT. The one rule for verify's refusal and for what export says of the file it wrote.
 */
export const bundleMibFor = (bytes: number): number | undefined => {
  const mib = Math.max(1, Math.ceil(bytes / MIB));
  return mib > BUNDLE_MIB.max || bytes > LONGEST_TEXT ? undefined : mib;
};

/**
 * What `credence export` says of the bundle of `bytes` it wrote to `path` when `credence verify` would not read it
 * without being told (over FILE_LIMITS.bundle): the option that reads it, or that none does. Undefined under the bound.
 */
export const bundleBoundNote = (path: string, bytes: number): string | undefined => {
  if (bytes <= FILE_LIMITS.bundle) return undefined;
  const mib = bundleMibFor(bytes);
  const over = `${path} is ${bytes} bytes, more than the ${BUNDLE_MIB.default} MiB of a bundle credence verify reads by default`;
  return mib === undefined
    ? `${over}, and more than the ${BUNDLE_MIB.max} MiB it can read at all: audit the data folder itself with credence verify --data`
    : `${over}: verify it with credence verify ${path} --max-bundle-mib ${mib} --key KEY (verifying takes some seven times that in memory)`;
};

// The bounded readers are shared with the service's configuration (the request-signing policy).
// The checked reader of a file that decides what is trusted too (verify --key).
export { readBytesFile, readJsonFile, readTextFile, readTrustedTextFile } from '../adapters/runtime/bounded-files.ts';
export type { FileRead } from '../adapters/runtime/bounded-files.ts';
