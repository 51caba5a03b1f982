/** Tells waiting subscriptions of this connection that an append has committed. */
export class AppendNotifier {
  private readonly listeners = new Set<() => void>();

  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(): void {
    // Copy: a woken listener unregisters itself while we iterate.
    for (const listener of [...this.listeners]) listener();
  }
}
