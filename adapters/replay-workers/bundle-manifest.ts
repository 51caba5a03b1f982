import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { z } from 'zod';

/** Bump when the build options (bundle-build.ts) change: a bundle built with other options is stale. */
export const BUILD_FORMAT = 1;

const RelPath = z.string().min(1).max(1_000);
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
/** The manifest of a build, as written next to it (parsed on read: it is stored data). */
export const Manifest = z.strictObject({
  format: z.literal(BUILD_FORMAT),
  esbuild: z.string().min(1).max(50),
  build: z.string().regex(/^[0-9a-f]{16}$/),
  /** Entry name to its source (relative to the package root) and its output file (relative to the build folder). */
  entries: z.record(z.string().regex(/^[a-z0-9-]{1,64}$/), z.strictObject({ source: RelPath, output: RelPath })),
  inputs: z.record(RelPath, Sha256).refine((r) => Object.keys(r).length <= 5_000, 'at most 5,000 inputs'),
  outputs: z.record(RelPath, Sha256).refine((r) => Object.keys(r).length <= 1_000, 'at most 1,000 outputs'),
});
export type Manifest = z.infer<typeof Manifest>;

export const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const inside = (path: string, dir: string): boolean => path === dir || path.startsWith(dir + sep);

/** What is wrong with the build `manifest` describes, or undefined when every input and output still matches. */
export const staleness = (manifest: Manifest, buildDir: string, root: string): string | undefined => {
  for (const [input, hash] of Object.entries(manifest.inputs)) {
    let content: Buffer;
    try {
      content = readFileSync(resolve(root, input));
    } catch {
      return `its input ${input} is gone`;
    }
    if (sha256(content) !== hash) return `its input ${input} changed`;
  }
  for (const [output, hash] of Object.entries(manifest.outputs)) {
    const file = resolve(buildDir, output);
    if (!inside(file, buildDir)) return `its output ${output} is outside the build folder`;
    let content: Buffer;
    try {
      content = readFileSync(file);
    } catch {
      return `its output ${output} is missing`;
    }
    if (sha256(content) !== hash) return `its output ${output} was altered`;
  }
  return undefined;
};

const MAX_MANIFEST_BYTES = 1_000_000;

export const readManifest = (file: string): { ok: true; manifest: Manifest } | { ok: false; problem: string } => {
  let raw: unknown;
  try {
    // Sized before it is read: a manifest is a few kilobytes, and whatever else sits there is not read into memory.
    if (statSync(file).size > MAX_MANIFEST_BYTES) return { ok: false, problem: `${file} is larger than a manifest can be` };
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return { ok: false, problem: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'none was built' : `${file} is unreadable (${(error as Error).message})` };
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) return { ok: false, problem: `${file}: ${parsed.error.issues[0]!.path.join('.') || '(root)'}: ${parsed.error.issues[0]!.message}` };
  return { ok: true, manifest: parsed.data };
};
