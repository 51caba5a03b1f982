/**
 * Who waits for a token's revocation in this process (a long-lived response, SSE, ends at once): listeners by token
 * id, told when `revoke` or a key rotation ends that token.
 */
export const revocationListeners = () => {
  const listenersByToken = new Map<string, Set<() => void>>();
  const tellRevoked = (ids: readonly string[]): void => {
    for (const id of ids) {
      for (const listener of [...(listenersByToken.get(id) ?? [])]) {
        try {
          listener();
        } catch {
          // One listener failing must not keep the others (or the caller) from the revocation, which is recorded.
        }
      }
    }
  };
  const onRevoked = (tokenId: string, listener: () => void): (() => void) => {
    const listeners = listenersByToken.get(tokenId) ?? new Set();
    listenersByToken.set(tokenId, listeners);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && listenersByToken.get(tokenId) === listeners) listenersByToken.delete(tokenId);
    };
  };
  return { tellRevoked, onRevoked };
};
