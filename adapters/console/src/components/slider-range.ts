import type { TimelineEntry } from '../schemas.ts';

const SLIDER_STEPS = 400;

/**
 * The instants of the events shown, and of the entity's last change (`updatedAt`, when it is known): the timeline's
 * first page starts at its first event, and the last change is its last, so the slider spans the entity's whole life
 * before every page is read.
 */
export const instants = (entries: readonly TimelineEntry[], updatedAt: string | undefined): number[] => {
  const times = entries.map((e) => Date.parse(e.occurredAt));
  const last = updatedAt !== undefined ? Date.parse(updatedAt) : Number.NaN;
  return Number.isFinite(last) ? [...times, last] : times;
};

/** The slider spans the entity's life: a second before its first event to a second after its last. */
export const sliderRange = (times: readonly number[]): { min: number; max: number; step: number } => {
  const min = Math.min(...times) - 1_000;
  const max = Math.max(...times) + 1_000;
  return { min, max, step: Math.max(1, Math.floor((max - min) / SLIDER_STEPS)) };
};

/** The instant of the next event after `at` (direction 1) or the one before it (-1), if any. */
export const nextInstant = (times: readonly number[], at: number, direction: 1 | -1): number | undefined => {
  const sorted = [...times].sort((a, b) => a - b);
  return direction > 0 ? sorted.find((t) => t > at) : [...sorted].reverse().find((t) => t < at);
};
