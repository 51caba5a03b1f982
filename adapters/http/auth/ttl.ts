import { z } from 'zod';

const UNIT_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;

/**
 * A token lifetime: seconds as a number or a digit string, or a count with a unit (`30m`, `24h`, `7d`, `45s`).
 * Bounded by the caller's maximum; the schema refuses anything else with a message naming the forms.
 */
export const Ttl = (maxSeconds: number) =>
  z
    .union([z.number().int(), z.string().max(16).regex(/^\d{1,9}[smhd]?$/, 'a number of seconds, or a count with s, m, h or d (e.g. 24h)')])
    .transform((value) => {
      if (typeof value === 'number') return value;
      const unit = value.at(-1)!;
      return unit in UNIT_SECONDS ? Number(value.slice(0, -1)) * UNIT_SECONDS[unit as keyof typeof UNIT_SECONDS] : Number(value);
    })
    .pipe(z.number().int().min(1, 'at least 1 second').max(maxSeconds, `at most ${maxSeconds} seconds`));

/** Seconds of a lifetime such as "24h"; throws the schema's error for anything else. */
export const parseTtl = (value: string | number, maxSeconds: number): number => Ttl(maxSeconds).parse(value);
