/** Small helpers shared by the benchmarks: percentiles over samples and readable rates. */
export const percentile = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
};

export const summarise = (samplesMs: number[]) => {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN };
};

export const rate = (count: number, ms: number): string => `${Math.round((count / ms) * 1000).toLocaleString('en-US')}/s`;

export const fmtMs = (ms: number): string => (ms < 1 ? `${(ms * 1000).toFixed(0)}µs` : `${ms.toFixed(2)}ms`);

export const peakRssMiB = (): string => `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`;

export const now = (): number => performance.now();

/** Runs `run` 20 times to warm up (JIT, prepared statements), then as often as it can for `budgetMs`. */
export const measureFor = async (budgetMs: number, run: () => Promise<unknown>): Promise<{ count: number; ms: number }> => {
  for (let i = 0; i < 20; i++) await run();
  let count = 0;
  const start = now();
  while (now() - start < budgetMs) {
    await run();
    count++;
  }
  return { count, ms: now() - start };
};
