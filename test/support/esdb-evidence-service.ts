import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { formatVerifierKey, noteVerifierKey } from '../../domain/transparency/index.ts';
import { openApi, registeredPseudonym, type Api } from '../http-conformance.fixtures.ts';
import { startStandIn, type StandIn } from '../esdb-standin/index.ts';
import { startTestService, type TestService } from './service.ts';

export interface EsdbEvidenceService {
  standIn: StandIn;
  svc: TestService;
  api: Api;
  /** The pseudonym `node` was registered under. */
  pseudonym: string;
  /** The transparency log's verifier key, as `credence verify --key` pins it. */
  logKey: string;
  /** A temporary folder for the bundles a test writes out ('' until made). */
  dir: string;
}

/**
 * A service on an EventStoreDB stand-in with `node` registered under a pseudonym (so its evidence carries a fact
 * claim naming it), started before the file's tests (then `then` runs, in the same beforeAll) and stopped after them.
 * The fields are filled in by the beforeAll: read them in tests and hooks, not at module load.
 */
export const esdbEvidenceService = (node: string, dirPrefix: string, then: (on: EsdbEvidenceService) => Promise<void>): EsdbEvidenceService => {
  const on = { pseudonym: '', logKey: '', dir: '' } as EsdbEvidenceService;
  beforeAll(async () => {
    on.standIn = await startStandIn();
    on.svc = await startTestService({ config: { store: on.standIn.connectionString } });
    on.api = await openApi(on.svc);
    on.pseudonym = await registeredPseudonym(on.svc, node);
    await then(on);
    const { signer } = on.svc.service.context.credence.transparencyLog!;
    on.logKey = formatVerifierKey(noteVerifierKey(signer.keyName, signer.publicKey));
    on.dir = mkdtempSync(join(tmpdir(), dirPrefix));
  }, 60_000);
  afterAll(async () => {
    await on.svc?.close();
    await on.standIn?.stop();
    if (on.dir !== '') rmSync(on.dir, { recursive: true, force: true });
  });
  return on;
};
