/**
 * Each call of these methods of `target` into `log` as it happens: `<label>.<method>`, and `:<detail>` when `detail`
 * says something of its arguments (e.g. the kind of stream a read names).
 */
export const watchCalls = (target: object, methods: readonly string[], label: string, log: string[], detail?: (args: readonly unknown[]) => string): void => {
  const t = target as Record<string, (...args: unknown[]) => unknown>;
  for (const method of methods) {
    const original = t[method]!.bind(target);
    t[method] = (...args: unknown[]) => {
      log.push(`${label}.${method}${detail === undefined ? '' : `:${detail(args)}`}`);
      return original(...args);
    };
  }
};
