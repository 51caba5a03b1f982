/**
 * Shared fixtures for the security tests (crypto, Secure Environment, x509, provisioning, handshake):
 * deterministic randomness, a settable clock, in-memory Secure Environments, byte tampering, secret scanning.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { MemoryReplayCache } from '../adapters/driven/replay-cache/replay-cache.ts';
import { fromBase64url, toBase64url, tryFromBase64url } from '../domain/crypto/base64url.ts';
import { InspectableSecureEnvironment as EmbeddedSecureEnvironment } from './support/inspectable-secure-environment.ts';

/** A seeded, reproducible byte stream (SHA-256 in counter mode): deterministic tests, never for production. */
export const seededRandom = (seed: string) => {
  let counter = 0;
  const seedBytes = new TextEncoder().encode(seed);
  return (length: number): Uint8Array<ArrayBuffer> => {
    const out = new Uint8Array(length);
    for (let offset = 0; offset < length; offset += 32) {
      const block = new Uint8Array(seedBytes.length + 4);
      block.set(seedBytes);
      new DataView(block.buffer).setUint32(seedBytes.length, counter++);
      out.set(sha256(block).subarray(0, Math.min(32, length - offset)), offset);
    }
    return out;
  };
};

export const fakeClock = (start = '2030-01-01T00:00:00.000Z') => {
  let t = Date.parse(start);
  return {
    now: () => new Date(t),
    advance: (ms: number) => {
      t += ms;
    },
    set: (iso: string) => {
      t = Date.parse(iso);
    },
  };
};

export const memorySecureEnvironment = (seed: string, now: () => Date) =>
  EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now, random: seededRandom(seed) });

export const replayCache = () => new MemoryReplayCache({ windowSeconds: 900, maxEntries: 10_000 });

/** Every leaf field of a message as a path, for tamper-each-field tests. */
export const leafPaths = (value: unknown, prefix: readonly (string | number)[] = []): (string | number)[][] => {
  if (Array.isArray(value)) return value.flatMap((v, i) => leafPaths(v, [...prefix, i]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
  return [[...prefix]];
};

/**
 * A copy of `message` with one leaf changed: a base64url field gets one byte flipped (decoded, flipped,
 * re-encoded, so it stays well-formed), a timestamp moves by 1 ms, a number is incremented, any other string gets
 * its last character changed.
 */
export const tamper = <T>(message: T, path: readonly (string | number)[], byteIndex = 0): T => {
  const copy = structuredClone(message) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const key = path[path.length - 1] as string | number;
  const value = parent[key];
  if (typeof value === 'number') parent[key] = value + 1;
  else if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(value)) {
    parent[key] = new Date(Date.parse(value) + 1).toISOString(); // one millisecond later, still well-formed
  } else if (typeof value === 'string') {
    const bytes = value.length >= 16 && !value.includes(':') ? tryFromBase64url(value) : undefined;
    if (bytes && bytes.length > 0) {
      bytes[byteIndex % bytes.length] = (bytes[byteIndex % bytes.length] as number) ^ 0x01;
      parent[key] = toBase64url(bytes);
    } else {
      const last = value.charCodeAt(value.length - 1);
      parent[key] = value.slice(0, -1) + String.fromCharCode(last === 0x30 ? 0x31 : last === 0x61 ? 0x62 : 0x30 + ((last + 1) % 10));
    }
  } else if (typeof value === 'boolean') parent[key] = !value;
  else throw new Error(`cannot tamper with ${path.join('.')}`);
  return copy as T;
};

/** Every way a secret could have been written: raw bytes, hex (both cases), base64 and base64url. */
export const secretEncodings = (secret: Uint8Array): Buffer[] => {
  const b = Buffer.from(secret);
  return [
    b,
    Buffer.from(b.toString('hex')),
    Buffer.from(b.toString('hex').toUpperCase()),
    Buffer.from(b.toString('base64').replace(/=+$/, '')),
    Buffer.from(b.toString('base64url')),
  ];
};

const bytesContainSecret = (haystack: Uint8Array, secret: Uint8Array): boolean => {
  const bytes = Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength);
  return secretEncodings(secret).some((needle) => bytes.includes(needle));
};

const isByte = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255;

/**
 * The bytes a value stands for once it has been through JSON: a Buffer's {"type":"Buffer","data":[...]}, a
 * Uint8Array's {"0":12,"1":34,...}, or a plain array of byte values; undefined for anything else.
 */
const bytesOfJsonShape = (value: object): Uint8Array | undefined => {
  if (Array.isArray(value)) return value.length > 0 && value.every(isByte) ? Uint8Array.from(value) : undefined;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 2 && record.type === 'Buffer' && Array.isArray(record.data) && record.data.every(isByte)) return Uint8Array.from(record.data);
  if (keys.length > 0 && keys.every((k, i) => k === String(i) && isByte(record[k]))) return Uint8Array.from(keys.map((k) => record[k] as number));
  return undefined;
};

/**
 * Whether a secret appears in a value, in any of its encodings (secretEncodings). Bytes (a file's content, a Buffer,
 * a Uint8Array) are scanned as they are; any other value is walked: every Uint8Array or Buffer inside it, every string
 * (keys included), and every array or object of the shape bytes take after JSON. Scanning `JSON.stringify(value)`
 * alone missed a key carried as bytes, which serialises as {"0":12,...} or {"type":"Buffer","data":[...]} (review 346).
 * The walk reads own enumerable properties, so what goes on the wire is scanned and walked as well: `JSON.stringify`
 * runs each toJSON, and a key an object keeps in a private field and exposes through toJSON was missed (review 348).
 */
export const containsSecret = (haystack: unknown, secret: Uint8Array): boolean => {
  const seen = new WeakSet<object>();
  const walk = (value: unknown): boolean => {
    if (typeof value === 'string') return bytesContainSecret(Buffer.from(value), secret);
    if (typeof value !== 'object' || value === null) return false;
    if (ArrayBuffer.isView(value)) return bytesContainSecret(new Uint8Array(value.buffer, value.byteOffset, value.byteLength), secret);
    if (value instanceof ArrayBuffer) return bytesContainSecret(new Uint8Array(value), secret);
    if (seen.has(value)) return false;
    seen.add(value);
    const asBytes = bytesOfJsonShape(value);
    if (asBytes !== undefined && bytesContainSecret(asBytes, secret)) return true;
    if (value instanceof Map) return [...value].some(([k, v]) => walk(k) || walk(v));
    if (value instanceof Set) return [...value].some(walk);
    if (Array.isArray(value)) return value.some(walk);
    return Object.entries(value).some(([k, v]) => walk(k) || walk(v));
  };
  if (walk(haystack)) return true;
  const wire = onTheWire(haystack);
  return wire !== undefined && (bytesContainSecret(Buffer.from(wire), secret) || walk(JSON.parse(wire)));
};

/**
 * The value as JSON, as a response or log line carries it (every toJSON run), a bigint as its decimal text so that
 * one anywhere does not make the check give up on the rest; undefined for what JSON cannot hold (a cycle, undefined).
 */
const onTheWire = (value: unknown): string | undefined => {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return undefined;
  }
};

export { fromBase64url, toBase64url };
