import { describe, expect, it } from 'vitest';
import { readState, stateFile } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Found in review: a `device provision` whose receipt timed out or whose connection was lost exited 1, said as
// `refused (validation): …`, while `device associate`'s finish, whose outcome is unknown the same way, exits 3 (the
// server not answering: docs/service.md, CLI exit codes). The receipt's outcome is as unknown as the finish's, so it
// exits 3 too, still naming the credential, the state file keeping its key and what settles it; a 5xx stays the
// server's problem with that hint (exit 1), as the finish's 5xx does.

const { url, device, enrolledDevice, held, expectNoSecret } = provisioningDevices('sub-receipt-unknown');

const RECEIPT = '/v1/enrolment/receipt';

/** A stand-in in front of the service that, at the receipt, never answers (`silent`) or closes the connection (`cut`). */
const receiptUnanswered = (how: 'silent' | 'cut') =>
  standInProxy(async (req, res, body) => {
    if (req.url === RECEIPT) {
      if (how === 'cut') return req.socket.destroy();
      return new Promise(() => {});
    }
    return answerWith(res, await forwarded(url(), req, body));
  });

describe('credence device provision whose receipt gets no answer', () => {
  it.each([
    ['it times out', 'silent', 'ru-silent', /no answer from http:\/\/127\.0\.0\.1:\d+ within 1 s/],
    ['the connection is closed', 'cut', 'ru-cut', /the connection to http:\/\/127\.0\.0\.1:\d+ closed before its answer/],
  ] as const)('when %s: exit 3, as a finish whose outcome is unknown, naming the credential and what settles it', async (_case, how, nodeId, why) => {
    const dir = await enrolledDevice(nodeId);
    const credentialId = `${nodeId}-svc`;
    const proxy = await receiptUnanswered(how);
    let lost: { code: number; output: string };
    try {
      lost = await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', proxy.url, '--timeout', '1']);
    } finally {
      await proxy.close();
    }
    expect(lost.code, lost.output).toBe(3);
    expect(lost.output).not.toContain('refused (validation)');
    expect(lost.output).toMatch(why);
    expect(lost.output).toContain(`whether the server recorded credential ${credentialId} is not known`);
    expect(lost.output).toContain(`this device keeps the new key, named as pending in ${stateFile(dir)}`);
    expect(lost.output).toMatch(/run device provision again with an operator token .* to settle it by its fingerprint/);
    if (how === 'silent') expect(lost.output).toContain('for longer work give --timeout SECONDS or set CREDENCE_TIMEOUT');
    const pending = readState(dir).provisioning!;
    expect(pending.credentialId).toBe(credentialId);
    expect(held(dir).map((k) => k.handle)).toContain(pending.handle);
    expectNoSecret(lost.output, dir);
  }, 60_000);
});
