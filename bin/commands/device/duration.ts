import { z } from 'zod';

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400, y: 365 * 86_400 } as const;

/**
 * A duration as people type it: `90d`, `12h`, `30m`, `45s`, `5y`; at most ten years. The unit is required (review 173:
 * `--valid-for 10` was ten seconds without a word, a bootstrap credential expired before its device was provisioned).
 */
export const Duration = z
  .string()
  .max(20)
  .regex(/^\d{1,9}[smhdy]$/, 'must be a whole number ending in its unit, s, m, h, d or y (e.g. 90d, 5y); a number alone is refused')
  .transform((text) => Number.parseInt(text, 10) * UNIT_SECONDS[text.at(-1) as keyof typeof UNIT_SECONDS])
  .refine((seconds) => seconds >= 1 && seconds <= 10 * 366 * 86_400, 'must be between 1 second and 10 years');
