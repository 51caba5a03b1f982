import type { z } from 'zod';
import type { FieldIssue } from '../../domain/errors.ts';

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
      return i.keys.map((k) => ({ path: where(path ? `${path}.${k}` : k), rule: i.code, message: 'unknown setting' }));
    }
    // A cross-field check names its own rule (checkLimitsTogether).
    const rule = i.code === 'custom' && typeof i.params?.['rule'] === 'string' ? (i.params['rule'] as string) : i.code;
    const others = i.code === 'custom' && also !== undefined && Array.isArray(i.params?.['also']) ? (i.params['also'] as unknown[]).filter((o) => typeof o === 'string') : [];
    return [{ path: where(path), rule, message: others.length === 0 ? i.message : `${i.message} (${others.map(also!).join('; ')})` }];
  });
