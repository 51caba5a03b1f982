import type { z } from 'zod';
import type { FieldIssue } from '../../domain/errors.ts';

/** Zod's issues as ours, each path named by `where` (the source it came from: `env PORT`, `flag --port`, ...). */
export const issuesOf = (error: z.ZodError, where: (path: string) => string): FieldIssue[] =>
  error.issues.flatMap((i): FieldIssue[] => {
    const path = i.path.map(String).join('.');
    // One issue per unknown key, so each is named.
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => ({ path: where(path ? `${path}.${k}` : k), rule: i.code, message: 'unknown setting' }));
    }
    // A cross-field check names its own rule (checkLimitsTogether).
    const rule = i.code === 'custom' && typeof i.params?.['rule'] === 'string' ? (i.params['rule'] as string) : i.code;
    return [{ path: where(path), rule, message: i.message }];
  });
