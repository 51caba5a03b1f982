import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { nodePseudonym } from '../../projections/pseudonyms/index.ts';
import { operator } from './fleet.ts';
import type { TestService } from './service.ts';

/** The epoch marks a data folder's keys.db holds (node id to epoch), read through a read-only connection. */
export const epochMarksOf = (data: string): Map<string, number> => {
  const db = new Database(join(data, 'keys.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT node_id AS nodeId, epoch FROM pseudonym_epoch_marks').all() as { nodeId: string; epoch: number }[];
    return new Map(rows.map((r) => [r.nodeId, r.epoch]));
  } finally {
    db.close();
  }
};

/** The node's entry in the service's pseudonym directory. */
export const currentPseudonym = (svc: TestService, nodeId = 'meter-1') => nodePseudonym(svc.service.context.credence.readModels, nodeId);

/** Whether `check` holds within 20 s, asked every 50 ms. */
export const eventually = async (check: () => boolean, ms = 20_000): Promise<boolean> => {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
};

/** An operator's rotation of meter-1, once the directory shows it (the read routes, the next rotation's start). */
export const rotateByHand = async (svc: TestService): Promise<string> => {
  const outcome = await svc.service.context.credence.pseudonyms!.rotateNow('meter-1', operator);
  if (outcome.outcome !== 'rotated') throw new Error(`not rotated: ${JSON.stringify(outcome)}`);
  expect(await eventually(() => currentPseudonym(svc)?.pseudonym === outcome.pseudonym)).toBe(true);
  return outcome.pseudonym;
};
