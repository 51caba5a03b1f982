import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { startTestService, type TestService } from './support/service.ts';
import { dataOf, openStream, settled } from './http-sse.fixtures.ts';

/*
 * SER-011, SER-018, SER-025. A node's profile class and capabilities are free strings (domain/events/node.ts): an
 * operator who writes a serial number or a customer's name into one had it published in NodeRegistered beside the
 * node's pseudonym, a per-node string that links the node's pseudonym epochs for every integrator. The pseudonymised
 * stream carries no profile term; the canonical stream keeps the profile as recorded.
 */

const operator = { id: 'op-1', role: 'operator' } as const;
const FREE_TEXT = ['SN-4471-XK', 'Globex Corp', 'serial:SN-0042', 'customer Initech'];
const registrations = [
  { nodeId: 'meter-01', profile: { class: 'SN-4471-XK', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering', 'serial:SN-0042'] } },
  { nodeId: 'meter-09', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['Globex Corp', 'customer Initech'] } },
];

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
  for (const data of registrations) await svc.service.context.credence.engine.execute(command('registerNode', data, { actor: operator }));
  await settled(svc);
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const framesOf = async (role: 'integrator' | 'operator') => {
  const s = await openStream(svc.url, svc.tokens[role], '/v1/events?type=NodeRegistered');
  try {
    expect(s.status).toBe(200);
    await s.until(() => s.events().length >= registrations.length, 'both registrations');
    return s.events();
  } finally {
    s.close();
  }
};

describe('the integrators\' stream and a node\'s profile', () => {
  it('publishes NodeRegistered with the node\'s pseudonym only: no class, no capability, no free text', async () => {
    const frames = await framesOf('integrator');
    for (const frame of frames) {
      const data = dataOf(frame)['data'] as Record<string, unknown>;
      expect(Object.keys(data)).toEqual(['nodeId']);
      expect(data['nodeId']).not.toMatch(/meter/);
    }
    const text = frames.map((f) => f.data).join('\n');
    for (const term of [...FREE_TEXT, 'metering', 'smart-meter']) expect(text).not.toContain(term);
  });

  it('leaves the canonical stream its profile as recorded', async () => {
    const frames = await framesOf('operator');
    expect(frames.map((f) => (dataOf(f)['data'] as { profile: unknown }).profile)).toEqual(registrations.map((r) => r.profile));
  });
});
