import { describe, expect, it } from 'vitest';
import { provisioningDevices } from './support/provisioning-device.ts';

// Review 161 (1): a device retrying `credence device associate` with no token after its association was established
// (its confirm lost, say: docs/service.md, lost replies) was refused `association.finish unknown_credential (no such
// credential for /<cse>)`, for a credential it holds and may use. The holder, its proof verified, is now told that
// the association is associated and takes no handshake, and the CLI says how to configure a new one.

const { url, operator, device, enrolledDevice } = provisioningDevices('sub-associated-again');

describe('credence device associate without a token, on an association already associated', () => {
  it('says the association is associated and that a new handshake needs a new association id', async () => {
    const dir = await enrolledDevice('meter-again');
    expect((await device(['provision', '--dir', dir, '--credential-id', 'meter-again-svc', '--kind', 'ed25519', '--server', url()])).code).toBe(0);
    const associate = ['associate', '--dir', dir, '--association-id', 'meter-again-sa', '--credential-id', 'meter-again-svc', '--server', url()];
    const associated = await device([...associate, '--token', operator().token]);
    expect(associated.code, associated.output).toBe(0);

    const refused = await device(associate);

    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toMatch(/association\.finish rejected: association_not_waiting \(association meter-again-sa is associated, where it takes no handshake/);
    expect(refused.output).not.toMatch(/unknown_credential|no such credential/);
    expect(refused.output).toContain('hint: association meter-again-sa takes no handshake any more: run device associate again under a new --association-id');
    expect(refused.output).not.toContain(operator().token);
    const json = await device([...associate, '--json']);
    expect(JSON.parse(json.output)).toMatchObject({ status: 422, step: 'association.finish', reason: 'association_not_waiting', hint: expect.stringContaining('--association-id') });
  }, 60_000);
});
