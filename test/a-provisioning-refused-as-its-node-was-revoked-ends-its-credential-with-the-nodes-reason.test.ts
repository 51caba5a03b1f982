import { afterEach, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { CredenceError } from '../domain/errors.ts';
import { PROCESS_MANAGER_ACTOR } from '../projections/cascade/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { restartableWorld, type RestartableWorld } from './support/restartable-world.ts';
import { operator } from './support/fleet.ts';
import { held, watchPskCopies } from './support/key-held.ts';

/*
 * Review 176: a remote provisioning whose `CredentialIssued` is followed by a revocation of its node (keyCompromise),
 * so that `provisionCredential` is refused (ownerIsLive), revoked the credential it issued as `cessationOfOperation`.
 * The cascade revoking it first, that revocation was refused as already done, and the caller got an AggregateError
 * (a 500 over HTTP) with the key pair's run record kept; the cleanup first, the credential stayed revoked as
 * `cessationOfOperation` and CRL/OCSP understated a key delivered to a compromised node.
 */

let world: RestartableWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const CREDENTIAL = 'meter-1-svc';

const stateOf = async (w: RestartableWorld, kind: 'node' | 'credential', id: string) => {
  const entity = await w.credence.engine.entity(kind, id);
  return [String(entity.snapshot.value), (entity.snapshot.context as { revocationReason?: string }).revocationReason];
};

describe('a remote provisioning refused because its node was revoked after the issue (review 176)', () => {
  /**
   * Who revokes the credential first, and the refusal the provisioning meets: the cascade settled before the provisioning
   * is decided (the credential is revoked, a final state), between the refusal (ownerIsLive) and the cleanup's
   * revocation (that revocation is refused as already done), or after the cleanup (the cascade's is).
   */
  const ORDERS = [
    { order: 'the cascade before the provisioning', refusal: { state: 'revoked' } },
    { order: 'the cascade between the refusal and the cleanup', refusal: { state: 'initialized', rule: 'ownerIsLive' } },
    { order: 'the cleanup first', refusal: { state: 'initialized', rule: 'ownerIsLive' } },
  ] as const;
  for (const { order, refusal } of ORDERS) {
    for (const kind of ['ed25519', 'psk256'] as const) {
      it(`tells the caller the typed refusal and ends the ${kind} credential with the node's reason, ${order}`, async () => {
        world = await restartableWorld(`review-176-${kind}-${order}`);
        const w = world;
        const device = await w.enrolled('meter-1', 'ed25519');
        const copies = watchPskCopies(w.se);
        // The node is revoked right after the credential's issue is appended, before its provisioning is decided.
        const run = w.infrastructure.run.bind(w.infrastructure);
        w.infrastructure.run = (async (type, data, correlationId) => {
          if (type === 'revokeCredential' && order === 'the cascade between the refusal and the cleanup') await w.credence.settle();
          const outcome = await run(type, data, correlationId);
          if (type === 'issueCredential') {
            await w.credence.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
            if (order === 'the cascade before the provisioning') await w.credence.settle();
          }
          return outcome;
        }) as typeof w.infrastructure.run;

        const error = await w.procedures.provisionRemotely({ device, credentialId: CREDENTIAL, kind }).catch((e: unknown) => e);
        expect(error).not.toBeInstanceOf(AggregateError);
        expect(error).toBeInstanceOf(CredenceError);
        expect((error as CredenceError).problem).toMatchObject({ code: 'illegal_transition', attempted: 'CredentialProvisioned', ...refusal });
        await w.credence.settle();

        expect(await stateOf(w, 'node', 'meter-1')).toEqual(['revoked', 'keyCompromise']);
        expect(await stateOf(w, 'credential', CREDENTIAL)).toEqual(['revoked', 'keyCompromise']);
        // Revoked once, by whom the order says: the cascade (the process manager), or the run's own cleanup.
        const revoked = (await w.credence.engine.entity('credential', CREDENTIAL)).events.filter((e) => e.event.type === 'CredentialRevoked');
        expect(revoked.map((e) => e.metadata.actor.id)).toEqual([order === 'the cleanup first' ? operator.id : PROCESS_MANAGER_ACTOR.id]);
        expect(await stateOf(w, 'credential', 'meter-1-boot')).toEqual(['revoked', 'keyCompromise']);
        // Nothing of the run is left for a start to settle: no key pair's run record, no PSK copy, nothing pending.
        expect(w.infrastructure.o.registry.keyPairRuns()).toEqual([]);
        expect(w.infrastructure.o.registry.live(`credential-${CREDENTIAL}`)).toEqual([]);
        expect(w.credence.keyRegistry?.pending() ?? []).toEqual([]);
        if (kind === 'psk256') expect(copies.length).toBeGreaterThan(0);
        expect(await held(w.se, w.infrastructure.owner, copies)).toEqual([]);
        expect((await replayAll(w.credence.store)).findings).toEqual([]);
      });
    }
  }
});
