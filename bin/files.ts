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

// The bounded readers are shared with the service's configuration (the request-signing policy).
// The checked reader of a file that decides what is trusted too (verify --key).
export { readBytesFile, readJsonFile, readTextFile, readTrustedTextFile } from '../adapters/runtime/bounded-files.ts';
export type { FileRead } from '../adapters/runtime/bounded-files.ts';
