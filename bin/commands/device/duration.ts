import { z } from 'zod';

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400, y: 365 * 86_400 } as const;

/** A duration as people type it: `90d`, `12h`, `30m`, `45s`, `5y`, or whole seconds; at most ten years. */
export const Duration = z
  .string()
  .max(20)
  .regex(/^\d{1,9}[smhdy]?$/, 'must be a whole number of seconds or end in s, m, h, d or y (e.g. 90d)')
  .transform((text) => {
    const unit = /[smhdy]$/.test(text) ? (text.at(-1) as keyof typeof UNIT_SECONDS) : 's';
    return Number.parseInt(text, 10) * UNIT_SECONDS[unit];
  })
  .refine((seconds) => seconds >= 1 && seconds <= 10 * 366 * 86_400, 'must be between 1 second and 10 years');
