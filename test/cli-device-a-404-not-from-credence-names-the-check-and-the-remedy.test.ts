import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readState } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Found in review: behind a proxy that replaces error bodies (nginx `proxy_intercept_errors`), device init's check
// that its ids are unused and the settling of a lost receipt refused to act on the proxy's 404 page (right), but said
// only "refused: Not Found (404)" and the page. And a proxy that routed a path to a Credence without the route (another
// instance, an older version) was taken at its word: that Credence's 404 was its `not_found`, "no such entity", and
// the settling destroyed the key of a credential the server had recorded. The refusal now names the check, says the
// answer was not Credence's word on it, and what to do; an unknown route is `route_not_found`, never absence.

const { url, operator, device, enrolledDevice, held, fingerprintOnServer, expectNoSecret } = provisioningDevices('sub-not-credence');

let root: string;
beforeAll(() => void (root = mkdtempSync(join(tmpdir(), 'credence-not-credence-init-'))));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ENTITIES = '/v1/entities/';
const RECEIPT = '/v1/enrolment/receipt';

/** How the stand-in answers the entity reads: a proxy's own HTML page, or a Credence that has no such route. */
type EntityRead = 'html-page' | 'credence-without-the-route';

/** A stand-in in front of the service that answers the entity reads with `read`; every request it saw. */
const proxyAnswering = async (read: EntityRead) => {
  const seen: string[] = [];
  const proxy = await standInProxy(async (req, res, body) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url?.startsWith(ENTITIES) !== true) return answerWith(res, await forwarded(url(), req, body));
    if (read === 'html-page') return res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body><h1>404 Not Found</h1><hr>nginx</body></html>');
    // Routed to a Credence that has not the route at that path: the service's own answer to an unknown route.
    return answerWith(res, await fetch(`${url()}/older${req.url}`, { headers: { authorization: req.headers.authorization ?? '' } }));
  });
  return { seen, ...proxy };
};

/** A device folder whose provision of `credentialId` the server recorded but whose receipt's answer a gateway lost. */
const lostReceipt = async (nodeId: string, credentialId: string): Promise<string> => {
  const dir = await enrolledDevice(nodeId);
  const lost = await standInProxy(async (req, res, body) => {
    const upstream = await forwarded(url(), req, body);
    if (req.url === RECEIPT && upstream.ok) return res.writeHead(408, { 'content-type': 'text/html' }).end('<html>408</html>');
    return answerWith(res, upstream);
  });
  try {
    await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', lost.url]);
  } finally {
    await lost.close();
  }
  expect(readState(dir).provisioning?.credentialId).toBe(credentialId);
  return dir;
};

describe("credence device init, when the check that its node id is unused gets a 404 that is not the service's not_found", () => {
  it.each([
    ['a proxy\'s HTML 404 page', 'html-page', 'did not come from Credence', 'proxy_intercept_errors off', 'not-credence-init-page'],
    ['a Credence without the route', 'credence-without-the-route', 'has no such route', "give the service's own URL to --server", 'not-credence-init-route'],
  ] as const)('%s: refused naming the check, why its answer is no word on it, and the remedy; nothing sent or kept', async (_case, read, why, remedy, nodeId) => {
    const dir = join(root, nodeId);
    const proxy = await proxyAnswering(read);
    let run: { code: number; output: string };
    try {
      run = await device(['init', '--node-id', nodeId, '--kind', 'ed25519', '--dir', dir, '--server', proxy.url, '--token', operator().token]);
    } finally {
      await proxy.close();
    }
    expect(run.code).toBe(1);
    expect(run.output).toContain(`device init's check that node ${nodeId} is unused`);
    expect(run.output).toContain(why);
    expect(run.output).toContain(remedy);
    expect(run.output).toContain('then run device init again');
    expect(run.output).not.toContain('<html>');
    expect(run.output).not.toContain(operator().token);
    // Taken at its word, the absence let the init go on to pin the infrastructure and register the node.
    expect(proxy.seen).toEqual([`GET ${ENTITIES}node/${nodeId}`]);
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});

describe('credence device provision, rerun to settle a lost receipt, when the read of the credential gets a 404 that is not the service\'s not_found', () => {
  it.each([
    ['a proxy\'s HTML 404 page', 'html-page', 'did not come from Credence', 'proxy_intercept_errors off', 'not-credence-settle-page'],
    ['a Credence without the route', 'credence-without-the-route', 'has no such route', "give the service's own URL to --server", 'not-credence-settle-route'],
  ] as const)('%s: the key and its pending record are kept, and the refusal names the check and the remedy', async (_case, read, why, remedy, nodeId) => {
    const credentialId = `${nodeId}-svc`;
    const dir = await lostReceipt(nodeId, credentialId);
    const pending = readState(dir).provisioning!;
    const proxy = await proxyAnswering(read);
    let settled: { code: number; output: string };
    try {
      settled = await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', proxy.url, '--token', operator().token]);
    } finally {
      await proxy.close();
    }
    expect(settled.code).toBe(1);
    expect(settled.output).toContain(`device provision's check whether the server recorded credential ${credentialId}`);
    expect(settled.output).toContain(why);
    expect(settled.output).toContain(remedy);
    expect(settled.output).toContain('then run device provision again');
    expect(settled.output).not.toContain('<html>');
    expectNoSecret(settled.output, dir);
    expect(readState(dir).provisioning?.handle).toBe(pending.handle);
    expect(held(dir).map((k) => k.handle)).toContain(pending.handle);
    expect(await fingerprintOnServer(credentialId)).toBe(pending.descriptor.fingerprint);

    const rerun = await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', url(), '--token', operator().token]);
    expect(rerun.output).toContain(`credential ${credentialId} adopted`);
    expect(rerun.code).toBe(0);
  }, 60_000);
});

describe('credence device provision, when a proxy sends the recorded receipt on to a Credence without the route', () => {
  it('takes its route_not_found for no refusal: the outcome is unknown and the key kept for a rerun to adopt', async () => {
    const nodeId = 'not-credence-receipt-route';
    const credentialId = `${nodeId}-svc`;
    const dir = await enrolledDevice(nodeId);
    const retrying = await standInProxy(async (req, res, body) => {
      const upstream = await forwarded(url(), req, body);
      if (req.url !== RECEIPT || !upstream.ok) return answerWith(res, upstream);
      // The first upstream recorded it and its answer was lost; the retry went to a Credence that has no such route.
      return answerWith(res, await fetch(`${url()}/older${RECEIPT}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }));
    });
    let lost: { code: number; output: string };
    try {
      lost = await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', retrying.url]);
    } finally {
      await retrying.close();
    }
    expect(lost.code).not.toBe(0);
    expect(lost.output).toContain('is not known');
    const pending = readState(dir).provisioning;
    expect(pending?.credentialId).toBe(credentialId);
    expect(held(dir).map((k) => k.handle)).toContain(pending?.handle);
    expect(await fingerprintOnServer(credentialId)).toBe(pending?.descriptor.fingerprint);
  }, 60_000);
});
