/** The bar itself, e.g. `[##########----------]  50%  5,000/10,000 events`; a total of 0 shows only the count. */
export const renderProgress = (done: number, total: number, label: string, width = 30): string => {
  const count = `${done.toLocaleString('en-US')}${total > 0 ? `/${total.toLocaleString('en-US')}` : ''} ${label}`;
  if (total <= 0) return count;
  const ratio = Math.min(1, Math.max(0, done / total));
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ${count}`;
};

/** A progress bar redrawn in place on a terminal; only for TTYs, so pipes and logs stay clean. */
export const progressBar = (stream: NodeJS.WriteStream, total: number, label: string) => ({
  update: (done: number): void => {
    stream.write(`\r${renderProgress(done, total, label)}`);
  },
  finish: (): void => {
    stream.write('\n');
  },
});
