import type { z } from 'zod';
import type { FieldIssue } from '../../domain/errors.ts';

/** How much of an unknown setting's name a refusal echoes, as the CLI bounds what it quotes (bin/program.ts). */
const MAX_ECHOED_NAME = 64;

/**
 * An unknown setting's name cut to its first 64 characters, with an ellipsis and its length (review 373 item 4: a
 * 60 KB key of a config file was echoed whole).
 */
const boundedName = (name: string): string => {
  const chars = [...name];
  return chars.length <= MAX_ECHOED_NAME ? name : `${chars.slice(0, MAX_ECHOED_NAME).join('')}… (${chars.length} characters)`;
};

/**
 * Zod's issues as ours, each path named by `where` (the source it came from: `env PORT`, `flag --port`, ...). A check
 * of two settings together lists the other settings it compares in `params.also` (dotted paths); `also` names where
 * each was set, appended to the message (review 298 item 3: "probePort: must differ from port" named neither source).
 */
export const issuesOf = (error: z.ZodError, where: (path: string) => string, also?: (path: string) => string): FieldIssue[] =>
  error.issues.flatMap((i): FieldIssue[] => {
    const path = i.path.map(String).join('.');
    // One issue per unknown key, so each is named.
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => ({ path: where(path ? `${path}.${boundedName(k)}` : boundedName(k)), rule: i.code, message: 'unknown setting' }));
    }
    // A cross-field check names its own rule (checkLimitsTogether).
    const rule = i.code === 'custom' && typeof i.params?.['rule'] === 'string' ? (i.params['rule'] as string) : i.code;
    const others = i.code === 'custom' && also !== undefined && Array.isArray(i.params?.['also']) ? (i.params['also'] as unknown[]).filter((o) => typeof o === 'string') : [];
    return [{ path: where(path), rule, message: others.length === 0 ? i.message : `${i.message} (${others.map(also!).join('; ')})` }];
  });
