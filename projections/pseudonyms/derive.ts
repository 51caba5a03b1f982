import type { Pseudonym } from '../../domain/events/pseudonym.ts';
import type { PseudonymKey } from './key.ts';

/**
 * Where the public stream learns the epoch a node's first pseudonym is given out at, for a node whose rotations it has
 * not folded yet (a frame before the node's first rotation, live or replayed): the epoch of the first rotation the
 * log records of it, else the one `firstEpoch` (first-epoch.ts) gives it now (past keys.db's mark, else 0). Both
 * name one pseudonym for a frame served before that rotation is recorded and after (first-epochs.ts).
 */
export interface FirstEpochs {
  firstEpochOf(nodeId: string): Promise<number>;
}

/** The identifiers that stand for a stakeholder and are replaced in public events (SER-011, SER-025). */
export type IdentifierKind = 'node' | 'cse' | 'ae' | 'subscription' | 'credential' | 'association';

/** Each kind keeps a recognisable prefix so integrators can tell a node pseudonym from a credential's. */
const PREFIX: Readonly<Record<IdentifierKind, string>> = {
  node: 'p-',
  cse: '/cse-',
  ae: 'ae-',
  subscription: 'sub-',
  credential: 'cred-',
  association: 'sa-',
};

const LABEL = 'credence/pseudonym/v1';
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const encoder = new TextEncoder();

/** RFC 4648 section 6 base32 (lowercase, unpadded): 16 bytes give 26 characters. */
export const base32 = (bytes: Uint8Array): string => {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
};

/**
 * The PRF input: label, kind and identifier each length-prefixed, then the owning node's id length-prefixed when the
 * identifier is a node's, then the epoch as 4 bytes big-endian, so no two (kind, id, owner, epoch) share an input
 * (with and without an owner the lengths differ). For a node this is HMAC-SHA256(key, Node-ID || epoch) with domain
 * separation. The owner is in the input so that one identifier under two nodes (a C-prefixed AE-ID is unique only
 * under its registrar; a CSE-ID passes to a node's replacement) never shares a pseudonym, even at the same epoch
 * number (found in review). An identifier that belongs to no node but is named only beside one credential (the AE-ID
 * owning a credential bound to no node yet) takes that credential as its context instead: the tag `credential` and
 * the credential's id, two parts where an owner is one, so no context shares an input with an owner (review 45).
 */
export const prfInput = (kind: IdentifierKind, id: string, epoch: number, ownerNodeId?: string, contextCredentialId?: string): Uint8Array => {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) throw new RangeError(`epoch must be a uint32, got ${epoch}`);
  if (ownerNodeId !== undefined && contextCredentialId !== undefined) throw new TypeError('an identifier has an owner node or a credential context, not both');
  const extra = ownerNodeId !== undefined ? [ownerNodeId] : contextCredentialId !== undefined ? ['credential', contextCredentialId] : [];
  const parts = [LABEL, kind, id, ...extra].map((s) => encoder.encode(s));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0) + 4);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of parts) {
    view.setUint32(offset, part.length);
    out.set(part, offset + 4);
    offset += 4 + part.length;
  }
  view.setUint32(offset, epoch);
  return out;
};

/**
 * Derives pseudonyms from the keyed PRF, truncated to 128 bits. Results are memoised (bounded) because the
 * public stream asks for the same few identifiers over and over and each PRF call is a Secure Environment call.
 */
export class PseudonymDeriver {
  readonly #cache: Map<string, string>;
  /**
   * The epoch each node's first pseudonym is given out at (first-epoch.ts), for a node whose rotations the public
   * stream has not seen yet; without it, 0. It travels with the deriver because the public stream is handed the deriver
   * (PseudonymRotation.deriver) and nothing else of the rotation.
   */
  readonly firstEpochs: FirstEpochs | undefined;
  constructor(
    private readonly key: PseudonymKey,
    private readonly cacheSize = 200_000,
    shared?: { readonly cache: Map<string, string>; readonly firstEpochs: FirstEpochs },
  ) {
    this.#cache = shared?.cache ?? new Map();
    this.firstEpochs = shared?.firstEpochs;
  }

  /** The same key and memo, naming each node with no rotation seen yet at the epoch `firstEpochs` gives. */
  withFirstEpochs(firstEpochs: FirstEpochs): PseudonymDeriver {
    return new PseudonymDeriver(this.key, this.cacheSize, { cache: this.#cache, firstEpochs });
  }

  /**
   * The identifier's pseudonym of `epoch`; `ownerNodeId`, the node it belongs to (none for a node's own id);
   * `contextCredentialId`, for one of no node, the one credential it is named beside (`prfInput`).
   */
  async identifier(kind: IdentifierKind, id: string, epoch: number, ownerNodeId?: string, contextCredentialId?: string): Promise<string> {
    const context = ownerNodeId !== undefined ? `\0${ownerNodeId}` : contextCredentialId !== undefined ? `\x01${contextCredentialId}` : '';
    const cacheKey = `${kind}\0${id}\0${epoch}${context}`;
    const hit = this.#cache.get(cacheKey);
    if (hit !== undefined) return hit;
    return this.#remember(cacheKey, kind, await this.key.prf(prfInput(kind, id, epoch, ownerNodeId, contextCredentialId)));
  }

  #remember(cacheKey: string, kind: IdentifierKind, mac: Uint8Array): string {
    if (!(mac instanceof Uint8Array) || mac.length < 16) throw new TypeError('key.prf must return at least 16 bytes');
    const value = PREFIX[kind] + base32(mac.subarray(0, 16));
    if (this.#cache.size >= this.cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(cacheKey, value);
    return value;
  }

  /** The node's pseudonym of `epoch`. */
  async node(nodeId: string, epoch: number): Promise<Pseudonym> {
    return (await this.identifier('node', nodeId, epoch)) as Pseudonym;
  }

  /**
   * The pseudonyms of many nodes, each at its own epoch, in order: those not memoised are derived in one PRF call
   * when the key can (`prfMany`, one Secure Environment call for a whole rotation round), else one call each.
   */
  async nodes(wanted: readonly { readonly nodeId: string; readonly epoch: number }[]): Promise<Pseudonym[]> {
    const out = new Array<string>(wanted.length);
    const missing: { index: number; cacheKey: string; input: Uint8Array }[] = [];
    for (const [index, { nodeId, epoch }] of wanted.entries()) {
      const cacheKey = `node\0${nodeId}\0${epoch}`;
      const hit = this.#cache.get(cacheKey);
      if (hit !== undefined) out[index] = hit;
      else missing.push({ index, cacheKey, input: prfInput('node', nodeId, epoch) });
    }
    if (missing.length > 0) {
      const macs = this.key.prfMany !== undefined ? await this.key.prfMany(missing.map((m) => m.input)) : undefined;
      if (macs !== undefined && macs.length !== missing.length) throw new TypeError(`key.prfMany must return ${missing.length} results, got ${macs.length}`);
      for (const [k, m] of missing.entries()) out[m.index] = this.#remember(m.cacheKey, 'node', macs?.[k] ?? (await this.key.prf(m.input)));
    }
    return out as Pseudonym[];
  }
}
