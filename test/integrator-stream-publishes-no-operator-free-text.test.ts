import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { startTestService, type TestService } from './support/service.ts';
import { dataOf, openStream, settled } from './http-sse.fixtures.ts';

/*
 * What an operator writes as free text never reaches an integrator: the pseudonymised stream carries pseudonyms, fixed
 * vocabularies and days, and the canonical stream keeps the text as recorded.
 * - A node's profile class and capabilities are free strings (domain/events/node.ts): a serial number or a customer's
 *   name written into one was published in NodeRegistered beside the node's pseudonym, a per-node string that links
 *   the node's pseudonym epochs for every integrator (SER-011, SER-018, SER-025).
 * - An application's name and provider are free text (domain/events/application.ts), and the provider names a
 *   stakeholder by definition: ApplicationRegistered published both (SER-018, review 48).
 */

const operator = { id: 'op-1', role: 'operator' } as const;
const nodes = [
  { nodeId: 'meter-01', profile: { class: 'SN-4471-XK', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering', 'serial:SN-0042'] } },
  { nodeId: 'meter-09', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['Globex Corp', 'customer Initech'] } },
];
const applications = [
  { appId: 'Rmetering', name: 'Globex Corp meter reading', provider: 'City Utilities' },
  { appId: 'Nlighting', name: 'customer Initech street lights', provider: 'Acme Lighting Ltd' },
];
const NODE_TEXT = ['SN-4471-XK', 'Globex Corp', 'serial:SN-0042', 'customer Initech', 'metering', 'smart-meter'];
const APPLICATION_TEXT = ['Globex', 'Initech', 'City Utilities', 'Acme Lighting', 'meter reading', 'street lights'];

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
  const { engine } = svc.service.context.credence;
  for (const data of nodes) await engine.execute(command('registerNode', data, { actor: operator }));
  for (const data of applications) await engine.execute(command('registerApplication', data, { actor: operator }));
  await settled(svc);
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

/** The frames of one event type the role's stream gives, once both registrations are there. */
const framesOf = async (role: 'integrator' | 'operator', type: 'NodeRegistered' | 'ApplicationRegistered') => {
  const s = await openStream(svc.url, svc.tokens[role], `/v1/events?type=${type}`);
  try {
    expect(s.status).toBe(200);
    await s.until(() => s.events().length >= 2, 'both registrations');
    return s.events();
  } finally {
    s.close();
  }
};
const textOf = (frames: readonly { data: string }[]): string => frames.map((f) => f.data).join('\n');

describe('the integrators\' stream and a node\'s profile', () => {
  it('publishes NodeRegistered with the node\'s pseudonym only: no class, no capability, no free text', async () => {
    const frames = await framesOf('integrator', 'NodeRegistered');
    for (const frame of frames) {
      const data = dataOf(frame)['data'] as Record<string, unknown>;
      expect(Object.keys(data)).toEqual(['nodeId']);
      expect(data['nodeId']).not.toMatch(/meter/);
    }
    for (const term of NODE_TEXT) expect(textOf(frames)).not.toContain(term);
  });

  it('leaves the canonical stream its profile as recorded', async () => {
    const frames = await framesOf('operator', 'NodeRegistered');
    expect(frames.map((f) => (dataOf(f)['data'] as { profile: unknown }).profile)).toEqual(nodes.map((r) => r.profile));
  });
});

describe('the integrators\' stream and an application\'s registration', () => {
  it('publishes ApplicationRegistered with its App-ID only: no name, no provider', async () => {
    const frames = await framesOf('integrator', 'ApplicationRegistered');
    expect(frames.map((f) => dataOf(f)['data'])).toEqual(applications.map((r) => ({ appId: r.appId })));
    for (const term of APPLICATION_TEXT) expect(textOf(frames)).not.toContain(term);
  });

  it('leaves the canonical stream the name and provider as recorded', async () => {
    const frames = await framesOf('operator', 'ApplicationRegistered');
    expect(frames.map((f) => dataOf(f)['data'])).toEqual(applications);
  });
});
