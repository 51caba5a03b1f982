import { notFound } from '../../domain/errors.ts';
import type { KeyHandle } from '../../domain/ports/secure-environment.ts';
import { EmbeddedSecureEnvironment, type EmbeddedSecureEnvironmentDeps } from '../../adapters/driven/secure-environment/embedded.ts';
import type { KeyVault } from '../../adapters/driven/secure-environment/key-vault.ts';

/**
 * TEST ONLY: the embedded Secure Environment plus exportForTest, so tests can prove that no secret is ever
 * written or published in any encoding, and that two ends hold the same key. The production class has no such
 * method (security issue 11 item 9): only an instance opened through this subclass can be read back.
 */
export class InspectableSecureEnvironment extends EmbeddedSecureEnvironment {
  readonly #vault: KeyVault;

  private constructor(vault: KeyVault, deps: EmbeddedSecureEnvironmentDeps, owners?: readonly string[]) {
    super(vault, deps, owners);
    this.#vault = vault;
  }

  static override open(config: unknown, deps: EmbeddedSecureEnvironmentDeps): InspectableSecureEnvironment {
    const { vault, owners } = super.openVault(config, deps);
    return new InspectableSecureEnvironment(vault, deps, owners);
  }

  /** The plaintext bytes behind a handle, with no owner check. */
  exportForTest(handle: KeyHandle): Uint8Array {
    const record = this.#vault.record(handle);
    if (!record) throw notFound(handle, 'key');
    return this.#vault.unseal(record);
  }
}
