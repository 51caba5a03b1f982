/**
 * Runs every step of a shutdown whatever the steps before it did, then throws the first error one of them threw
 * (unless `expected` says it is a known refusal, already reported where it was found): a resource that fails to
 * close must not leave the others' files and locks open (a service stopped in that state could leave its folder held).
 */
export const closeEach = async (
  steps: readonly (() => unknown)[],
  expected: (error: unknown) => boolean = () => false,
): Promise<void> => {
  let failed: { readonly error: unknown } | undefined;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      if (!expected(error)) failed ??= { error };
    }
  }
  if (failed !== undefined) throw failed.error;
};
