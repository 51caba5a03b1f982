import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { startTestService, type TestService } from './support/service.ts';
import { dataOf, openStream, settled } from './http-sse.fixtures.ts';

/*
 * SER-018 (review 48). An application's name and provider are free text (up to 128 characters each,
 * domain/events/application.ts), and the provider names a stakeholder by definition: ApplicationRegistered published
 * both to every integrator. The pseudonymised stream carries the App-ID only; the canonical stream keeps them.
 */

const operator = { id: 'op-1', role: 'operator' } as const;
const registrations = [
  { appId: 'Rmetering', name: 'Globex Corp meter reading', provider: 'City Utilities' },
  { appId: 'Nlighting', name: 'customer Initech street lights', provider: 'Acme Lighting Ltd' },
];
const FREE_TEXT = ['Globex', 'Initech', 'City Utilities', 'Acme Lighting', 'meter reading', 'street lights'];

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
  for (const data of registrations) await svc.service.context.credence.engine.execute(command('registerApplication', data, { actor: operator }));
  await settled(svc);
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const framesOf = async (role: 'integrator' | 'operator') => {
  const s = await openStream(svc.url, svc.tokens[role], '/v1/events?type=ApplicationRegistered');
  try {
    expect(s.status).toBe(200);
    await s.until(() => s.events().length >= registrations.length, 'both registrations');
    return s.events();
  } finally {
    s.close();
  }
};

describe('the integrators\' stream and an application\'s registration', () => {
  it('publishes ApplicationRegistered with its App-ID only: no name, no provider', async () => {
    const frames = await framesOf('integrator');
    expect(frames.map((f) => dataOf(f)['data'])).toEqual(registrations.map((r) => ({ appId: r.appId })));
    const text = frames.map((f) => f.data).join('\n');
    for (const term of FREE_TEXT) expect(text).not.toContain(term);
  });

  it('leaves the canonical stream the name and provider as recorded', async () => {
    const frames = await framesOf('operator');
    expect(frames.map((f) => dataOf(f)['data'])).toEqual(registrations);
  });
});
