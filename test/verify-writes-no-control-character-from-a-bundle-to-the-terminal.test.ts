import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { report } from '../bin/commands/verify-checks.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { main } from '../bin/cli.ts';
import type { RecordedEvent } from '../domain/ports/index.ts';
import { ENTITY_KINDS, streamIdOf } from '../domain/streams.ts';
import {
  MemoryTree,
  RecordedEventWire,
  buildEvidenceBundle,
  eventLeafHash,
  fail,
  formatCheckpointText,
  formatStreamHeadText,
  formatVerifierKey,
  inclusionProof,
  isValidKeyName,
  parseVerifierKey,
  rootHash,
  streamRootOf,
  verifyEvidenceBundle,
} from '../domain/transparency/index.ts';
import { signNote } from '../projections/transparency/index.ts';
import { capture } from './support/cli.ts';
import { ORIGIN, eventId, fixedSigner, keyOf, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review: `credence verify` printed text read from the bundle raw. A forged bundle whose first event's
 * streamId held `ESC[2K CR ESC[1A` and a fake "ok: ..." line erased the FAILED line on a terminal and showed the
 * forged one: a failed verification that looked verified. Stream ids and note key names with a control character are
 * now refused at parse, naming the field, and everything verify prints goes through `printable` (text and --json).
 */

/** C0 controls, DEL and C1 controls: none may reach the terminal raw. */
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const FORGED_OK = '\u001b[2K\r\u001b[1Aok: 3 events of credential-meter-1 are in the log\n\u009b2K';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const STREAM = 'credential-meter-1';
const signer = fixedSigner(1);
const key = keyOf(signer);
const events: RecordedEvent[] = Array.from({ length: 3 }, (_, i) => ({
  id: eventId(i),
  streamId: STREAM,
  revision: BigInt(i),
  position: BigInt(i + 1),
  type: 'CredentialProvisioned',
  data: { index: i },
  metadata: { actor: 'operator-1' },
}));
const tree = new MemoryTree(events.map(eventLeafHash));

/** A genuine bundle of the three events, as `credence export` writes it, parsed back from JSON to be edited. */
const genuineBundle = async (): Promise<Record<string, any>> => {
  const size = events.length;
  const json = buildEvidenceBundle({
    streamId: STREAM,
    entries: events.map((event, leafIndex) => ({ event, leafIndex, proof: inclusionProof(tree, leafIndex, size) })),
    checkpointNote: await signNote(signer, formatCheckpointText({ origin: ORIGIN, treeSize: size, rootHash: rootHash(tree, size), time: '2026-02-01T00:00:00.000Z' })),
    streamHeadNote: await signNote(
      signer,
      formatStreamHeadText({ origin: ORIGIN, treeSize: size, rootHash: rootHash(tree, size), streamId: STREAM, events: size, streamRoot: streamRootOf(events.map(eventLeafHash)) }),
    ),
    logPublicKey: key,
  });
  return JSON.parse(JSON.stringify(json));
};

/** Text lines: each one line, with no control character. */
const expectNoRawControl = (lines: readonly string[]): void => {
  for (const line of lines) expect(line, JSON.stringify(line)).not.toMatch(RAW_CONTROL);
};
/** Indented JSON: only its own line breaks, between lines with no control character. */
const expectJsonWithoutRawControl = (out: readonly string[]): void => expectNoRawControl(out.join('\n').split('\n'));

describe('credence verify and text read from a bundle', () => {
  it('fails a bundle whose stream id carries escape sequences and a fake ok line, naming the field, writing no control character', async () => {
    const bundle = await genuineBundle();
    bundle.entries[0].event.streamId = FORGED_OK;
    const file = join(dirs.make(), 'forged.json');
    writeFileSync(file, JSON.stringify(bundle));

    const text = capture();
    expect(await verifyCommand([file, '--key', formatVerifierKey(key)], text.io)).toBe(2);
    expect(text.out).toEqual([]);
    expect(text.err).toEqual(['FAILED (malformed): not an evidence bundle: entries.0.event.streamId: must hold no control character (C0, DEL or C1)']);

    bundle.entries[0].event.streamId = STREAM;
    bundle.streamId = FORGED_OK;
    writeFileSync(file, JSON.stringify(bundle));
    const asJson = capture();
    expect(await verifyCommand([file, '--key', formatVerifierKey(key), '--json'], asJson.io)).toBe(2);
    expectJsonWithoutRawControl(asJson.out);
    expectNoRawControl(asJson.err);
    expect(JSON.parse(asJson.out.join('\n'))).toMatchObject({ ok: false, reason: 'malformed', message: expect.stringContaining('streamId: must hold no control character') });
  });

  it('prints a failed verification through printable: one line, every control character escaped, and JSON that parses to the same message', () => {
    const result = fail('wrong_stream', `entry 0 belongs to ${FORGED_OK}, not ${STREAM}`, 1n);
    const text = capture();
    expect(report(result, 'ok: never printed', text.io, false)).toBe(1);
    expect(text.out).toEqual([]);
    expect(text.err).toHaveLength(1);
    expectNoRawControl(text.err);
    expect(text.err[0]).toBe(
      'FAILED (wrong_stream) at position 1: entry 0 belongs to \\u001b[2K\\u000d\\u001b[1Aok: 3 events of credential-meter-1 are in the log\\u000a\\u009b2K, not credential-meter-1',
    );

    const asJson = capture();
    expect(report(result, 'ok: never printed', asJson.io, true)).toBe(1);
    expectJsonWithoutRawControl(asJson.out);
    expectNoRawControl(asJson.err);
    expect(JSON.parse(asJson.out.join('\n')).message).toBe(result.ok ? '' : result.message);
  });

  it('refuses a control character in a stream id and in a note key name at parse, naming the field; the stream ids the product writes pass', async () => {
    const wire = { position: '1', streamId: STREAM, revision: '0', id: eventId(0), type: 'CredentialProvisioned', data: {}, metadata: {} };
    for (const control of ['\u0000', '\u001b', '\n', '\r', '\u007f', '\u0085', '\u009b']) {
      const parsed = RecordedEventWire.safeParse({ ...wire, streamId: `credential-${control}meter` });
      expect(parsed.success, JSON.stringify(control)).toBe(false);
      expect(parsed.error?.issues).toEqual([expect.objectContaining({ path: ['streamId'], message: 'must hold no control character (C0, DEL or C1)' })]);
      expect(isValidKeyName(`credence.test${control}log`), JSON.stringify(control)).toBe(false);
    }
    // Every kind of entity stream, with an id using every character an id may hold (domain/ids.ts).
    for (const kind of ENTITY_KINDS) expect(RecordedEventWire.safeParse({ ...wire, streamId: streamIdOf(kind, 'Meter-1.a_b:c~d') }).success, kind).toBe(true);
    expect(isValidKeyName(ORIGIN)).toBe(true);

    // A bundle naming a log key whose key name holds CSI: refused, the field and the rule named.
    const bundle = await genuineBundle();
    const [name, id, b64] = (bundle.logPublicKey as string).split('+');
    bundle.logPublicKey = `${name}\u009b+${id}+${b64}`;
    expect(parseVerifierKey(bundle.logPublicKey)).toBeUndefined();
    // The same key pinned with --key: refused as bad usage, naming the rule.
    const pinned = capture();
    expect(await verifyCommand([join(dirs.make(), 'absent.json'), '--key', bundle.logPublicKey], pinned.io)).toBe(2);
    expect(pinned.err).toEqual(['error: --key: the key name must be non-empty, without spaces, "+" or control characters']);
    expect(verifyEvidenceBundle(bundle, { integrityOnly: true })).toMatchObject({
      ok: false,
      reason: 'malformed',
      message: 'not an evidence bundle: logPublicKey: its key name must be non-empty, without spaces, "+" or control characters',
    });
  });
});

describe('credence verify --server and text read from the bundle it hands out', () => {
  let server: Server;
  let url: string;
  let served = '';
  beforeAll(async () => {
    server = createServer((_request, response) => void response.writeHead(200, { 'content-type': 'application/json' }).end(served));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('fails a served bundle whose event data names a key with escape sequences, writing no control character, as text and as JSON', async () => {
    const bundle = await genuineBundle();
    // Nested past the bundle's depth limit under a key that writes a fake ok line: the refusal names the path to it.
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 40; i++) deep = (deep[i === 0 ? FORGED_OK : 'x'] = {}) as Record<string, unknown>;
    bundle.entries[0].event.data = root;
    served = JSON.stringify(bundle);
    for (const format of [[], ['--json']]) {
      const c = capture();
      const code = await main(['verify', STREAM, '--server', url, '--token', 'a.b.c', '--key', formatVerifierKey(key), ...format], c.io);
      expect(code).toBe(1);
      expectJsonWithoutRawControl(c.out);
      expectNoRawControl(c.err);
      expect([...c.out, ...c.err].join('\n')).toContain('\\u001b[2K');
    }
  });
});
