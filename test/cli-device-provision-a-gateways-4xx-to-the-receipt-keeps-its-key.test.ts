import { describe, expect, it } from 'vitest';
import { readState } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Found in review (64 F3): the device took every 4xx answer to its receipt for the server's refusal, so a gateway's
// 408 or 429, or a proxy's HTML error page, given after the receipt reached the server and the server recorded the
// credential, destroyed the new key and cleared its pending record: the server held an enrolled credential whose key
// was gone. Only a 4xx problem answer of Credence's own types (but 408 and 429) is a refusal now.

const { url, operator, device, enrolledDevice, named, held, fingerprintOnServer, expectNoSecret } = provisioningDevices('sub-gw4');

const RECEIPT = '/v1/enrolment/receipt';

type GatewayAnswer = { readonly status: number; readonly contentType: string; readonly body: string };

const HTML = (status: number): GatewayAnswer => ({ status, contentType: 'text/html', body: `<html><body>${status} from the gateway</body></html>` });
const PROBLEM = (status: number, type: string): GatewayAnswer =>
  ({ status, contentType: 'application/problem+json', body: JSON.stringify({ type, title: 'From the gateway', status }) });

/** A stand-in that forwards everything, and answers the receipt, once the server recorded it, with `answer`. */
const gateway = (answer: GatewayAnswer) =>
  standInProxy(async (req, res, body) => {
    const upstream = await forwarded(url(), req, body);
    if (req.url === RECEIPT && upstream.ok) return res.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body);
    return answerWith(res, upstream);
  });

describe('credence device provision, when a gateway answers the receipt the server recorded with a 4xx of its own', () => {
  it.each([
    ['a 408 page (the gateway timed out)', HTML(408), 'gw-408'],
    ['an HTML 404 page', HTML(404), 'gw-404'],
    ['an HTML 400 page', HTML(400), 'gw-400'],
    ['a 429 problem of Credence\'s own type (rate limited, for now)', PROBLEM(429, 'https://credence.dev/problems/rate_limited'), 'gw-429'],
    ['a 409 problem of another type (about:blank)', PROBLEM(409, 'about:blank'), 'gw-409-other'],
    ['a 401 problem of Credence\'s type (the device route takes no token)', PROBLEM(401, 'https://credence.dev/problems/unauthenticated'), 'gw-401'],
  ] as const)('%s: the outcome is unknown, the key and its pending record are kept, and a rerun with a token adopts it', async (_case, answer, nodeId) => {
    const dir = await enrolledDevice(nodeId);
    const credentialId = `${nodeId}-svc`;
    const proxy = await gateway(answer);
    let lost: { code: number; output: string };
    try {
      lost = await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', proxy.url]);
    } finally {
      await proxy.close();
    }
    expect(lost.code).not.toBe(0);
    expect(lost.output).toContain('is not known');
    const pending = readState(dir).provisioning;
    expect(pending?.credentialId).toBe(credentialId);
    const recorded = await fingerprintOnServer(credentialId);
    expect(recorded).toBe(pending?.descriptor.fingerprint);
    expect(held(dir).map((k) => k.handle)).toEqual(named(readState(dir)));
    expect(held(dir)).toHaveLength(2);

    const rerun = await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', url(), '--token', operator().token]);
    expect(rerun.output).toContain(`credential ${credentialId} adopted`);
    expect(rerun.code).toBe(0);
    const state = readState(dir);
    expect(state.credentials.map((c) => [c.credentialId, c.descriptor.fingerprint])).toEqual([[credentialId, recorded]]);
    expect(held(dir).map((k) => k.handle)).toEqual(named(state));
    expectNoSecret([lost.output, rerun.output].join('\n'), dir);
  }, 60_000);
});

describe('credence device provision, rerun to settle a lost receipt, when a gateway answers the credential\'s read with a 404 page', () => {
  it('keeps the key and its pending record (only the service\'s own not_found says the server holds no such credential); a later rerun adopts it', async () => {
    const dir = await enrolledDevice('gw-settle-404');
    const credentialId = 'gw-settle-404-svc';
    const lost = await gateway(HTML(408));
    try {
      await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', lost.url]);
    } finally {
      await lost.close();
    }
    const pending = readState(dir).provisioning;
    expect(pending?.credentialId).toBe(credentialId);
    // Review 66: the settle step took any 404 to its read of the credential for "not recorded", and destroyed the key.
    const page = standInProxy(async (req, res, body) => {
      if (req.url?.startsWith('/v1/entities/') === true) return res.writeHead(404, { 'content-type': 'text/html' }).end('<html>404</html>');
      return answerWith(res, await forwarded(url(), req, body));
    });
    const proxy = await page;
    let settled: { code: number; output: string };
    try {
      settled = await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', proxy.url, '--token', operator().token]);
    } finally {
      await proxy.close();
    }
    expect(settled.code).not.toBe(0);
    expect(readState(dir).provisioning?.handle).toBe(pending?.handle);
    expect(held(dir).map((k) => k.handle)).toContain(pending?.handle);

    const rerun = await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', url(), '--token', operator().token]);
    expect(rerun.output).toContain(`credential ${credentialId} adopted`);
    expect(rerun.code).toBe(0);
  }, 60_000);
});
