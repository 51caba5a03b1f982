/**
 * What `promise` gives if it settles within `ms` (undefined if it fails or is still running then): for an afterAll
 * that must wait for a set-up its beforeAll's timeout gave up on, which may still be writing, without waiting for ever.
 */
export const settledWithin = <T>(promise: Promise<T> | undefined, ms: number): Promise<T | undefined> =>
  Promise.race([promise?.catch(() => undefined), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref())]);
