import { describe, expect, it } from 'vitest';
import { getLong, longestBlockDuring, useServiceWithEntityAtTheBound } from './support/long-entity.ts';


/**
 * Found in review 242's follow-up: at the entity bound (10,000 events) GET /v1/entities/{kind}/{id}, its state at an
 * instant and GET /v1/replay/{kind}/{id} each held the event loop in one block of 200 to 320 ms: the stream read
 * whole, then every event folded through its machine with every guard (and the engine's rebuild, for the entity now),
 * with only microtasks between; /healthz, the device endpoints and every other request waited behind it. The stream
 * is now read in pages and folded with a turn of the event loop (a macrotask) every few hundred events, so a timer
 * set as the request starts fires many times before its answer. Counts, never times: the longest block is printed
 * for the report, as timings on a shared machine are noisy.
 *
 * Then (the follow-up's follow-up): the replay and the state at an instant still held the loop after the fold, while
 * their answer was made: the replay's findings worded for the caller (60 ms), toWire (46 ms) and the encoding through
 * the route's response schema (112 ms), the state's toWire and encoding (80 ms). Their long arrays (steps, findings)
 * are now worded, converted, encoded and written in turns too, so their timers tick more often still.
 */
describe('reads of an entity at the bound', () => {
  const world = useServiceWithEntityAtTheBound();

  const at = () => encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
  // The longest block as a share of the request's time, a ratio that holds on a fast machine and a slow one alike
  // (absolute tick counts do not: a faster machine answers in fewer milliseconds). In one block, the entity now and
  // its state took 0.8 to 0.95 of their request's time; with the fold in turns but the answers made in one block after
  // it, the state and the replay 0.5 to 0.75 (317 ms of some 450, 407 of 435 to 816); with every part in turns, 0.03 to
  // 0.2 (the longest gaps, 7 to 80 ms, a collection or another process's turn as often as a part of the answer).
  const routes: [string, () => string][] = [
    ['the entity now', () => '/v1/entities/node/gw'],
    ['its state at an instant', () => `/v1/entities/node/gw/state?at=${at()}`],
    ['its replay', () => '/v1/replay/node/gw'],
  ];

  it.each(routes)('%s: no block of the event loop holds it for a large share of the request', async (name, path) => {
    expect(world.events).toBeGreaterThan(world.svc.service.context.limits.maxEntityEvents - 3);
    const { value: reply, took, longestBlock } = await longestBlockDuring(() => getLong(world.svc, path(), world.svc.tokens.auditor));
    console.log(`${name} of ${world.events} events: ${took.toFixed(0)} ms, longest block ${longestBlock.toFixed(0)} ms`);
    expect(reply.status).toBe(200);
    expect(longestBlock).toBeLessThan(took * 0.45);
  }, 120_000);
});
