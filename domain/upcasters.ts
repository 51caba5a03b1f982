import type { EventType } from './events/index.ts';

/**
 * Events are stored forever; their schemas are not. Each event type has a current schema version, and an
 * upcaster for every older version lifts the stored data one version up, so years-old events stay readable.
 * Upcasters are pure and run on read, before the data is parsed by the current schema.
 */

type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

const CURRENT_SCHEMA_VERSION: Readonly<Partial<Record<EventType, number>>> = {
  NodeRegistered: 2,
};

export const currentVersionOf = (type: EventType): number => CURRENT_SCHEMA_VERSION[type] ?? 1;

/** UPCASTERS[type][v] lifts data from version v to v + 1. */
const UPCASTERS: Readonly<Partial<Record<EventType, Readonly<Record<number, Upcaster>>>>> = {
  NodeRegistered: {
    // v1 recorded the generic profile as a bare device class string; v2 (seed 004 Initialization) records the
    // profile as properties. A v1 node's manufacturer and model were not captured, so they read as 'unknown'.
    1: (data) => ({
      ...data,
      profile: {
        class: typeof data['profile'] === 'string' ? data['profile'] : 'unknown',
        manufacturer: 'unknown',
        model: 'unknown',
        capabilities: [],
      },
    }),
  },
};

export type UpcastResult =
  | { ok: true; data: Record<string, unknown>; version: number }
  | { ok: false; reason: string };

export const upcast = (type: EventType, version: number, data: Record<string, unknown>): UpcastResult => {
  const target = currentVersionOf(type);
  if (version > target) return { ok: false, reason: `${type} v${version} is newer than this build knows (v${target})` };
  let current = data;
  for (let v = version; v < target; v++) {
    const step = UPCASTERS[type]?.[v];
    if (step === undefined) return { ok: false, reason: `no upcaster for ${type} v${v} -> v${v + 1}` };
    current = step(current);
  }
  return { ok: true, data: current, version: target };
};
