import { afterEach, describe, expect, it } from 'vitest';
import type { KeyHandle } from '../domain/ports/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { restartableWorld, type RestartableWorld } from './support/restartable-world.ts';

// Review 138: a twin run of a credential id, refused at its record, registers its PSK copy pending under the
// credential's stream before it is refused; a process that died before that run's discard left the copy pending, and
// the next start's sweep confirmed every pending copy of a credential that holds `CredentialProvisioned`, without
// asking whether it is the key recorded. The credential then had two live PSKs, and the Registrar, which uses the
// first by handle order, picked the one the device never kept about half the time: its associations failed
// `bad_mac` for good.

let world: RestartableWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const STREAM = 'credential-meter-1-svc';

/** Whether the infrastructure's Secure Environment still holds `handle`. */
const held = (w: RestartableWorld, handle: string) =>
  w.se.describe(w.infrastructure.owner, handle as KeyHandle).then(
    () => true,
    (e: unknown) => (isCredenceError(e, 'not_found') ? false : Promise.reject(e)),
  );

describe('the start sweep of a pending PSK copy of a provisioned credential', () => {
  it('destroys a copy that is not the key the credential records, and keeps the one it records', async () => {
    world = await restartableWorld('sweep-psk-fingerprint');
    const w = world;
    const device = await w.enrolled('meter-1', 'ed25519');
    await w.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'psk256' });
    const [recorded] = w.infrastructure.o.registry.live(STREAM, 'psk');
    expect(recorded).toBeDefined();
    // What the refused twin left when the process died before its discard: its own PSK copy, pending on the stream.
    const twin = await w.se.generate(w.infrastructure.owner, 'psk256');
    w.infrastructure.o.registry.register(STREAM, twin, 'psk', { pending: true });

    await w.restart();
    expect(w.infrastructure.o.registry.live(STREAM, 'psk')).toEqual([recorded]);
    expect(w.infrastructure.o.registry.pending()).toEqual([]);
    expect(await held(w, twin)).toBe(false);
    expect(await held(w, recorded!)).toBe(true);
  });
});
