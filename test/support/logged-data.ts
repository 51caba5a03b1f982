import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../../adapters/driven/store/index.ts';
import { openTransparencyLogInDir } from '../../adapters/driven/transparency/index.ts';
import { run as verifyCommand } from '../../bin/commands/verify.ts';
import type { CheckpointSigner } from '../../domain/transparency/index.ts';
import { TransparencyProjection } from '../../projections/transparency/index.ts';
import { body, openApi, settled, type Api, type Reply } from '../http-conformance.fixtures.ts';
import { appendEvents, ORIGIN } from '../transparency-fixtures.ts';
import { capture } from './cli.ts';
import type { TestService } from './service.ts';

/** A data folder made by `dirs` with 10 events under a checkpoint by `signer`, and leaves 10 and 11 logged after it. */
export const checkpointedFolder = async (dirs: { make(): string }, signer: CheckpointSigner): Promise<string> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  const log = openTransparencyLogInDir(dir);
  const projection = new TransparencyProjection({ store, log, signer, origin: ORIGIN, now: () => new FakeClock().now(), checkpointEveryMs: 0 });
  await appendEvents(store, 10);
  await projection.catchUp();
  await projection.checkpoint();
  await appendEvents(store, 2, 10);
  await projection.catchUp();
  await store.close();
  log.close();
  return dir;
};

/** `credence verify --data dir` under the folder's transparency.pub, as text and with --json: exit codes, output, the document. */
export const verifyData = async (dir: string) => {
  const key = readFileSync(join(dir, 'transparency.pub'), 'utf8').trim();
  const text = capture();
  const code = await verifyCommand(['--data', dir, '--key', key], text.io);
  const json = capture();
  const jsonCode = await verifyCommand(['--data', dir, '--key', key, '--json'], json.io);
  return { code, out: text.out.join('\n'), err: text.err.join('\n'), jsonCode, document: JSON.parse(json.out.join('\n') || 'null') as unknown };
};

/** Meter-1 registered and enrolled, meters 2 and 3 registered, through `svc`'s API and settled: node-meter-1's first position and its inclusion proof call (answering 200). */
export const loggedNodeOn = async (svc: TestService): Promise<{ api: Api; position: bigint; inclusion: () => Promise<Reply<any>> }> => {
  const api = await openApi(svc);
  for (const command of [body.createSubscription(), body.registerNode('meter-1'), body.enrolNode('meter-1'), body.registerNode('meter-2'), body.registerNode('meter-3')]) {
    const reply = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: command });
    expect(reply.status).toBe(201);
  }
  await settled(svc);
  const position = (await svc.service.context.credence.store.readStream('node-meter-1'))[0]!.position;
  const inclusion = () => api.call('GET', '/v1/transparency/proofs/inclusion', {}, { token: svc.tokens.auditor, query: { position: position.toString(10) } });
  expect((await inclusion()).status).toBe(200);
  return { api, position, inclusion };
};
