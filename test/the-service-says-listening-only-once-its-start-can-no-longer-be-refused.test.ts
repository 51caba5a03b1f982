/**
 * Review 231: Fastify's own line at listen, "Server listening at …", came before the checks of the bound address and
 * the PKI publisher's start, any of which can still refuse the start (a damaged CRL number file logged it, then the
 * service exited 1). The port's binding is said as that ("bound at …"), and `listening` only once the start is done.
 */
import { describe, expect, it } from 'vitest';
import { startTestService } from './support/service.ts';

describe('the start of the service', () => {
  it('says the port is bound at listen, and listening only after the PKI publisher started', async () => {
    const svc = await startTestService();
    try {
      const messages = svc.logs().map((line) => String((JSON.parse(line) as { msg?: unknown }).msg));
      expect(messages.some((m) => m.startsWith('Server listening'))).toBe(false);
      const bound = messages.findIndex((m) => m.startsWith('bound at http://127.0.0.1:'));
      const listening = messages.indexOf('listening');
      expect(bound).toBeGreaterThanOrEqual(0);
      expect(listening).toBeGreaterThan(bound);
    } finally {
      await svc.close();
    }
  });
});
