import type { Owner } from '../../domain/events/index.ts';
import type { CopyStep } from './fold-copy.ts';

/**
 * The App-ID each live credential of an Application Service Provider belongs to: an App-ID's own (`app:App-ID`) and an
 * AE's (`ae:AE-ID@app:App-ID`). A scoped stream gives its events that name no association to that App-ID's scope
 * (public-scope.ts), not to the node it was first configured on: that node's use of it may have ended while another's
 * goes on (review 56). An AE credential stored before its owner named an App-ID has no entry. Let go once the credential
 * ended, after that event's frame: its stream takes no event of its own after, but the raise of a revocation's reason
 * to keyCompromise, which the fold (identities.ts) waits for before it says the credential ended here (review 210).
 */
export class AppCredentials {
  readonly #appOf = new Map<string, string>();
  /** Credentials the last event ended, let go when the next is observed. */
  #ending: string[] = [];

  issued(credentialId: string, owner: Owner): void {
    const appId = owner.kind === 'app' ? owner.id : owner.kind === 'ae' ? owner.appId : undefined;
    if (appId !== undefined) this.#appOf.set(credentialId, appId);
  }

  ended(credentialId: string): void {
    if (this.#appOf.has(credentialId)) this.#ending.push(credentialId);
  }

  /** Lets go what the events before ended. */
  letGo(): void {
    if (this.#ending.length === 0) return;
    for (const credentialId of this.#ending) this.#appOf.delete(credentialId);
    this.#ending = [];
  }

  /** The App-ID the credential belongs to, while it is live and until the event that ends it was published. */
  appOf(credentialId: string): string | undefined {
    return this.#appOf.get(credentialId);
  }

  /** `appOf` as it will stand once the next event is observed, which lets go what the last one ended. */
  appOfNext(credentialId: string): string | undefined {
    return this.#ending.includes(credentialId) ? undefined : this.#appOf.get(credentialId);
  }

  get size(): number {
    return this.#appOf.size;
  }

  /** The map of an empty `into` beside this one's; `into` takes the pending ends, so a copy lets go what this would. */
  pairsWith(into: AppCredentials): CopyStep[] {
    into.#ending = [...this.#ending];
    return [[into.#appOf, this.#appOf]];
  }
}
