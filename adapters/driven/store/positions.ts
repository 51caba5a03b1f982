/** A position (or revision) argument of the store port, as both stores check it at their boundary. */
export const checkPosition = (value: unknown, argument: string): bigint => {
  if (typeof value !== 'bigint') throw new Error(`${argument}: must be a bigint`);
  return value;
};
