/** What the commit order needs to know of an append: the stream it writes and the streams it read as facts. */
export interface StreamAccess {
  readonly streamId: string;
  readonly facts: readonly { readonly streamId: string }[];
}

/** A member of a group: its access, or undefined for work that names none (ordered by submission alone). */
export interface Ordered {
  readonly access: StreamAccess | undefined;
}

/**
 * The order a group's appends are committed in (review 220 finding 1). An append that read stream S as a fact goes
 * ahead of the group's appends to S: it was decided on S as it stood before them, so committing it first is a serial
 * order in which its decision holds, whereas committing it after them refuses it whatever it decided. Submitted in
 * order, it always lost: an engine's lane for S decides its next command in the very tick its previous append
 * resolves, so that append is queued before the reader's retry, every time. Appends to one stream keep their order
 * (a writer pipelining its appends expects each one's revision after the last). Where these rules form a cycle (A
 * read what B writes, B read what A writes) its members keep submission order. The order is the lexicographically
 * smallest by submission that keeps these rules, so a group with no reader behind a writer of its fact stays as it
 * was: nothing is allocated for it beyond one Set, and nothing at all for a group with no facts.
 *
 * Any order is safe: every check (expected revision, facts, idempotency, certified keys) still runs at the commit,
 * against what the appends before it in this order wrote; this one only decides who wins.
 */
export const inCommitOrder = <M extends Ordered>(group: M[]): M[] => (aReaderFollowsAWriterOfItsFact(group) ? reordered(group) : group);

const aReaderFollowsAWriterOfItsFact = (group: readonly Ordered[]): boolean => {
  if (!group.some(({ access }) => access !== undefined && access.facts.length > 0)) return false;
  const written = new Set<string>();
  for (const { access } of group) {
    if (access === undefined) continue;
    for (const fact of access.facts) if (written.has(fact.streamId)) return true;
    written.add(access.streamId);
  }
  return false;
};

/** Edges "u before w", as singly linked lists in typed arrays: a few arrays per group, none per member. */
class Precedence {
  readonly head: Int32Array;
  readonly to: Int32Array;
  readonly next: Int32Array;
  #count = 0;
  constructor(nodes: number, maxEdges: number) {
    this.head = new Int32Array(nodes).fill(-1);
    this.to = new Int32Array(maxEdges);
    this.next = new Int32Array(maxEdges);
  }
  add(u: number, w: number): void {
    this.to[this.#count] = w;
    this.next[this.#count] = this.head[u]!;
    this.head[u] = this.#count++;
  }
}

const reordered = <M extends Ordered>(group: M[]): M[] => {
  const n = group.length;
  let facts = 0;
  for (const { access } of group) facts += access?.facts.length ?? 0;
  const edges = new Precedence(n, n + facts);
  // Appends to one stream, in submission order: each after the one before it.
  const firstWriter = new Map<string, number>();
  const lastWriter = new Map<string, number>();
  group.forEach(({ access }, i) => {
    if (access === undefined) return;
    const last = lastWriter.get(access.streamId);
    if (last === undefined) firstWriter.set(access.streamId, i);
    else edges.add(last, i);
    lastWriter.set(access.streamId, i);
  });
  // A reader of S before the first append to S, so before all of them.
  group.forEach(({ access }, i) => {
    for (const fact of access?.facts ?? []) {
      const writer = firstWriter.get(fact.streamId);
      if (writer !== undefined) edges.add(i, writer);
    }
  });
  return inOrder(group, edges, cyclesOf(n, edges));
};

/** Tarjan's strongly connected components, without recursion (a group holds thousands): each member's component. */
const cyclesOf = (n: number, { head, to, next }: Precedence): Int32Array => {
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const component = new Int32Array(n).fill(-1);
  const stack = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const callNode = new Int32Array(n);
  const callEdge = new Int32Array(n);
  let sp = 0;
  let counter = 0;
  let components = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    let cp = 0;
    index[root] = low[root] = counter++;
    stack[sp++] = root;
    onStack[root] = 1;
    callNode[cp] = root;
    callEdge[cp++] = head[root]!;
    while (cp > 0) {
      const v = callNode[cp - 1]!;
      const e = callEdge[cp - 1]!;
      if (e !== -1) {
        callEdge[cp - 1] = next[e]!;
        const w = to[e]!;
        if (index[w] === -1) {
          index[w] = low[w] = counter++;
          stack[sp++] = w;
          onStack[w] = 1;
          callNode[cp] = w;
          callEdge[cp++] = head[w]!;
        } else if (onStack[w] === 1) low[v] = Math.min(low[v]!, index[w]!);
        continue;
      }
      cp--;
      if (cp > 0) low[callNode[cp - 1]!] = Math.min(low[callNode[cp - 1]!]!, low[v]!);
      if (low[v] === index[v]) {
        let w: number;
        do {
          w = stack[--sp]!;
          onStack[w] = 0;
          component[w] = components;
        } while (w !== v);
        components++;
      }
    }
  }
  return component;
};

/**
 * Kahn's topological sort, smallest submission index first, over the edges between components; inside a component
 * (a cycle) its members follow one another in submission order.
 */
const inOrder = <M>(group: readonly M[], { head, to, next }: Precedence, component: Int32Array): M[] => {
  const n = group.length;
  const waitingFor = new Int32Array(n);
  const nextInCycle = new Int32Array(n).fill(-1);
  const lastOfComponent = new Int32Array(n).fill(-1);
  for (let u = 0; u < n; u++) {
    for (let e = head[u]!; e !== -1; e = next[e]!) if (component[to[e]!] !== component[u]) waitingFor[to[e]!]!++;
    const previous = lastOfComponent[component[u]!]!;
    if (previous !== -1) {
      nextInCycle[previous] = u;
      waitingFor[u]!++;
    }
    lastOfComponent[component[u]!] = u;
  }
  const ready = new MinHeap(n);
  for (let u = 0; u < n; u++) if (waitingFor[u] === 0) ready.push(u);
  const ordered: M[] = [];
  const release = (w: number): void => {
    if (--waitingFor[w]! === 0) ready.push(w);
  };
  while (ready.size > 0) {
    const u = ready.pop();
    ordered.push(group[u]!);
    for (let e = head[u]!; e !== -1; e = next[e]!) if (component[to[e]!] !== component[u]) release(to[e]!);
    if (nextInCycle[u] !== -1) release(nextInCycle[u]!);
  }
  return ordered;
};

/** A binary min-heap of member indices. */
class MinHeap {
  readonly #items: Int32Array;
  size = 0;
  constructor(capacity: number) {
    this.#items = new Int32Array(capacity);
  }
  push(value: number): void {
    const items = this.#items;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]! <= value) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = value;
  }
  pop(): number {
    const items = this.#items;
    const top = items[0]!;
    const last = items[--this.size]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && items[child + 1]! < items[child]!) child++;
      if (items[child]! >= last) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
