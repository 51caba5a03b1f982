import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compiledSchema } from '../domain/compiled-schema.ts';

describe('compiled schemas where zod may not generate code', () => {
  afterEach(() => {
    z.config({ jitless: false });
  });

  it('are the runtime schema itself under jitless (the console: no new Function under its CSP)', () => {
    const schema = z.strictObject({ id: z.string().min(1) });
    z.config({ jitless: true });
    expect(compiledSchema(schema)).toBe(schema);
  });

  it('are a compiled clone otherwise, with the same verdicts', () => {
    const schema = z.strictObject({ id: z.string().min(1) });
    const compiled = compiledSchema(schema);
    expect(compiled).not.toBe(schema);
    expect(compiled.safeParse({ id: 'a' })).toEqual(schema.safeParse({ id: 'a' }));
    expect(compiled.safeParse({ id: '' }).success).toBe(false);
  });
});
