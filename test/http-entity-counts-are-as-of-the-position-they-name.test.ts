import { afterEach, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { startTestService, type TestService } from './support/service.ts';
import { operator } from './support/fleet.ts';

/*
 * Found in review: GET /v1/entities/counts counted the entities read model, then awaited the store's head, and only
 * then read the read model's checkpoint: a write and its catch-up landing in between made the answer claim a later
 * position than its counts were from (one node "as of" a position that held two).
 */

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
});

const profile = { class: 'meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] };

it('names the position its counts are as of, though a write lands while it answers', async () => {
  svc = await startTestService();
  const { credence } = svc.service.context;
  await credence.engine.execute(command('registerNode', { nodeId: 'n1', profile }, { actor: operator }));
  await credence.settle();
  const store = credence.store;
  const headPosition = store.headPosition.bind(store);
  // The answer reads the head twice: waiting for the read model to reach it, then to report it beside the counts.
  let calls = 0;
  let raced = false;
  store.headPosition = async () => {
    if (++calls === 2) {
      raced = true;
      await credence.engine.execute(command('registerNode', { nodeId: 'n2', profile }, { actor: operator }));
      await credence.settle();
    }
    return headPosition();
  };
  const response = await fetch(`${svc.url}/v1/entities/counts`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
  const answer = (await response.json()) as { kinds: { node: { entities: number } }; position: string };
  expect(raced).toBe(true);
  // Every node registered at or before the named position is counted.
  const nodesAsOf = [];
  for await (const e of store.readAll()) if (e.type === 'NodeRegistered' && e.position <= BigInt(answer.position)) nodesAsOf.push(e.streamId);
  expect(answer.kinds.node.entities).toBe(nodesAsOf.length);
});
