/**
 * Review 386 item 2: a password rotated on the cluster, or the user's permissions narrowed, made the server refuse
 * every call (UNAUTHENTICATED, or PERMISSION_DENIED `access-denied`), which the adapter passed on untranslated: every
 * command and read was `500 internal`, /readyz said "the event store does not answer" and the CLI gave no hint. It
 * is a store unavailable to this service until its operator mends the credentials: 503 `store_unavailable`, reason
 * `unauthorised`, saying so without naming the user or the password.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { eventStoreDbFailure } from './support/eventstoredb-failure.ts';
import { mapError } from '../adapters/http/problems.ts';
import { EXIT, runAction } from '../bin/program.ts';
import type { CredentialsRefusal } from './esdb-standin/index.ts';
import { capture } from './support/cli.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';
import { startTestService } from './support/service.ts';

const { startStandIn, hold } = standInTeardown();

const USER = 'credence-writer';
const PASSWORD = 's3cret-rotated';

const failure = eventStoreDbFailure;

const refused = async (refusal: CredentialsRefusal) => {
  const standIn = await startStandIn();
  const store = hold(openEventStoreDbStore(standIn.connectionString.replace('esdb://', `esdb://${USER}:${PASSWORD}@`)));
  // The store opened, and its first read was answered, before the credentials were refused.
  await store.headPosition();
  standIn.refuseCredentials(refusal);
  return { standIn, store };
};

describe('credentials or permissions the event store refuses', () => {
  for (const refusal of ['unauthenticated', 'access_denied'] as const) {
    it(`are 503 store_unavailable, reason unauthorised, for a command and a read (${refusal}), naming neither user nor password`, async () => {
      const { store } = await refused(refusal);
      const stream = `node-${randomUUID()}`;
      const appended = await failure(() =>
        store.appendToStream(stream, [{ id: randomUUID(), type: 'NodeEnrolled', data: {}, metadata: {} }], { expectedRevision: ExpectedRevision.any }),
      );
      expect(appended.unavailable).toEqual({ reason: 'unauthorised' });
      expect(appended.unreachable).toBe(false);
      const read = await failure(() => store.readStream(stream));
      expect(read.unavailable).toEqual({ reason: 'unauthorised' });
      for (const [error, kind] of [
        [appended, 'command'],
        [read, 'read'],
      ] as const) {
        const mapped = mapError(error, kind);
        // Mended by an operator, as a full disk is: a retry in seconds would loop (review 392).
        expect(mapped).toMatchObject({ status: 503, code: 'store_unavailable', extensions: { reason: 'unauthorised' }, headers: { 'retry-after': '60' } });
        expect(mapped.detail).toContain('credentials or permissions');
        expect(JSON.stringify(mapped)).not.toContain(USER);
        expect(JSON.stringify(mapped)).not.toContain(PASSWORD);
        expect(error.message).not.toContain(PASSWORD);
      }
    });
  }

  it('is exit 3 in the CLI with a hint to check the credentials and permissions of the store', async () => {
    const { store } = await refused('unauthenticated');
    const error = await failure(() => store.readStream(`node-${randomUUID()}`));
    const c = capture();
    expect(await runAction(c.io, () => Promise.reject(error))).toBe(EXIT.unreachable);
    expect(c.err.slice(1)).toEqual([expect.stringContaining('refused the credentials')]);
    expect(c.err.join('\n')).not.toContain(PASSWORD);
  });

  it("makes /readyz say the event store refused this service's credentials", async () => {
    const standIn = await startStandIn();
    const svc = await startTestService({ config: { store: standIn.connectionString } });
    try {
      standIn.refuseCredentials('access_denied');
      const reply = await fetch(`${svc.url}/readyz`);
      expect(reply.status).toBe(503);
      const body = (await reply.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ check: 'store' });
      expect(body['detail']).toBe("the event store refused this service's credentials or their user's permissions");
    } finally {
      await svc.close();
    }
  });
});
