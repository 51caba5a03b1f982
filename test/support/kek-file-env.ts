/** `run` with CREDENCE_KEK_FILE set as `credence serve` reads it (process.env), put back after. */
export const withKekFile = async <T>(kek: string, run: () => Promise<T>): Promise<T> => {
  const before = process.env['CREDENCE_KEK_FILE'];
  process.env['CREDENCE_KEK_FILE'] = kek;
  try {
    return await run();
  } finally {
    if (before === undefined) delete process.env['CREDENCE_KEK_FILE'];
    else process.env['CREDENCE_KEK_FILE'] = before;
  }
};
