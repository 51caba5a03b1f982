import { openApi, registeredPseudonym, type Api } from '../http-conformance.fixtures.ts';
import { startTestService, type TestService } from './service.ts';

/** A started service, its API client, and the pseudonym of `nodeId`, registered through it; the service closed if that fails. */
export const startServiceWithPseudonym = async (nodeId: string): Promise<{ svc: TestService; api: Api; pseudonym: string }> => {
  const svc = await startTestService();
  try {
    const api = await openApi(svc);
    return { svc, api, pseudonym: await registeredPseudonym(svc, nodeId) };
  } catch (error) {
    await svc.close();
    throw error;
  }
};
