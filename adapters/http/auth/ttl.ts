import { z } from 'zod';

const UNIT_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;

/** What a lifetime in no form it takes is told. */
const TTL_FORMS_MESSAGE = 'a whole number of seconds, or a count with s, m, h or d (e.g. 24h)';
/** The rule (an issue's `params.rule`, which front ends report) of a lifetime in no form it takes. */
const TTL_FORM_RULE = 'ttl_form';
/** The rule of a lifetime left out, as a compliance query's parameter left out (projections/compliance/catalog.ts). */
const REQUIRED_RULE = 'required';

/** What a count of more digits than the forms take is told: that bound, and the caller's maximum when it has one. */
const tooManyDigits = (maxSeconds: number): string =>
  `the count has more than 9 digits: at most 9, with s, m, h or d or none (e.g. 24h)${maxSeconds < Number.MAX_SAFE_INTEGER ? `; at most ${maxSeconds} seconds in all` : ''}`;

/** The forms a lifetime takes: seconds as a whole number or a digit string, or a count with a unit. */
const TTL_FORMS = z.union([z.number().int(), z.string().max(16).regex(/^\d{1,9}[smhd]?$/, TTL_FORMS_MESSAGE)]);

/**
 * The forms as the OpenAPI document states them (review 432): with the bounds the pipe below refuses by, which the
 * document cannot read through the transform. Documentation only: they read what TTL_FORMS reads, and the bounds are
 * still refused after it, with their own messages.
 */
const documentedForms = (maxSeconds: number) =>
  z.union([
    z.number().int().meta({ minimum: 1, maximum: maxSeconds, description: `seconds, 1 to ${maxSeconds}` }),
    z
      .string()
      .max(16)
      .regex(/^\d{1,9}[smhd]?$/, TTL_FORMS_MESSAGE)
      .meta({ description: `seconds as digits, or a count with s, m, h or d (e.g. 24h): in all at least 1 second and at most ${maxSeconds}` }),
  ]);

/**
 * A token lifetime: seconds as a number or a digit string, or a count with a unit (`30m`, `24h`, `7d`, `45s`).
 * Bounded by the caller's maximum. A value in none of the forms is one issue naming them, checked before the union
 * reads it: the union's own refusal of a value neither form takes (`1.5`, `1e400` read as Infinity, `true`) was zod's
 * `invalid_union`, "Invalid input" (review 219). Checked in a preprocess so that the OpenAPI document still states the
 * forms (the union's, read through it) and the field still required.
 */
export const Ttl = (maxSeconds: number) =>
  z.preprocess(
    (value, ctx) => {
      if (!TTL_FORMS.safeParse(value).success) {
        const left = value === undefined;
        // A count in the forms but past their 9 digits is told the bound, not the forms it is in (review 295: `99999999999h`).
        const tooLong = typeof value === 'string' && /^\d{10,}[smhd]?$/.test(value);
        ctx.addIssue({
          code: 'custom',
          message: left ? `is required: ${TTL_FORMS_MESSAGE}` : tooLong ? tooManyDigits(maxSeconds) : TTL_FORMS_MESSAGE,
          params: { rule: left ? REQUIRED_RULE : TTL_FORM_RULE },
          input: value,
        });
      }
      return value;
    },
    documentedForms(maxSeconds).transform((value) => {
      if (typeof value === 'number') return value;
      const unit = value.at(-1)!;
      return unit in UNIT_SECONDS ? Number(value.slice(0, -1)) * UNIT_SECONDS[unit as keyof typeof UNIT_SECONDS] : Number(value);
    }).pipe(z.number().int().min(1, 'at least 1 second').max(maxSeconds, `at most ${maxSeconds} seconds`)),
  );

/** Seconds of a lifetime such as "24h"; throws the schema's error for anything else. */
export const parseTtl = (value: string | number, maxSeconds: number): number => Ttl(maxSeconds).parse(value);
