import { z } from 'zod';
import { EMPTY_MESSAGE } from '../../../domain/commands/printable-text.ts';
import { isReservedSubject, RESERVED_SUBJECT_MESSAGE, RESERVED_SUBJECT_RULE } from './reserved-subjects.ts';

/**
 * Who a token names: an id usable as a command's actor id, never one reserved to the engine's system actors or to
 * the infrastructure (reserved-subjects.ts). The refusal names its rule (`reserved_subject`) in `params.rule`. An
 * empty subject is refused once, for being empty (review 368: the pattern refused it again, as `--subject` printed).
 */
export const TokenSubject = z
  .string()
  .min(1, { error: EMPTY_MESSAGE, abort: true })
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'letters, digits and . _ : @ - only')
  .refine((s) => !isReservedSubject(s), { message: RESERVED_SUBJECT_MESSAGE, params: { rule: RESERVED_SUBJECT_RULE } });

export const TokenId = z.string().regex(/^tok_[A-Za-z0-9_-]{22}$/, 'a token id (tok_ and 22 characters)');
