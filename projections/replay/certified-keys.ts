import type { EntityView } from '../../domain/streams.ts';
import { RestoredEntity, stateOfEntity, type VerifiedEntity } from './restored-entity.ts';

/** A credential whose issue was recorded on a key, and where. */
interface Certification {
  readonly position: bigint;
  readonly credentialId: string;
}

/**
 * Replay's index of certified keys (SER-010, the credential machine's keyNeverCertified): per key fingerprint, the
 * credentials whose issue replay recorded on it, by global position, so an issue is judged against the keys certified
 * before it, as the engine judged it against the store's index. Fed in any order of streams (a worker's timeline
 * takes each partition's revisions in turn); most keys hold one credential, a broken history a few.
 */
export class CertifiedKeys {
  readonly #byKey = new Map<string, Certification[]>();

  certify(fingerprint: string, credentialId: string, position: bigint): void {
    const held = this.#byKey.get(fingerprint);
    if (held === undefined) {
      this.#byKey.set(fingerprint, [{ position, credentialId }]);
      return;
    }
    if (held.some((c) => c.credentialId === credentialId)) return;
    held.push({ position, credentialId });
    held.sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  }

  /** A credential's first view (its issue, recorded at `position`): its key is certified from there on. */
  certifyView(credentialId: string, position: bigint, view: EntityView): void {
    const fingerprint = (view.context as { fingerprint?: unknown }).fingerprint;
    if (typeof fingerprint === 'string') this.certify(fingerprint, credentialId, position);
  }

  /**
   * Entities restored from a checkpoint or a worker's state: each credential recorded (issued) certified its key before
   * anything that follows. A restored entity's context is read as persisted, not restored into a snapshot for this.
   */
  certifyEntities(entities: Iterable<VerifiedEntity>): void {
    for (const entity of entities) {
      if (entity.kind !== 'credential' || stateOfEntity(entity) === 'absent') continue;
      const context = entity instanceof RestoredEntity && !entity.touched ? entity.persistedContext : (entity.snapshot.context as Record<string, unknown>);
      const fingerprint = context['fingerprint'];
      if (typeof fingerprint === 'string') this.certify(fingerprint, entity.id, -1n);
    }
  }

  /** The credential first certified on `fingerprint` before `position`; undefined when none was. */
  holderBefore(fingerprint: string, position: bigint): string | undefined {
    const first = this.#byKey.get(fingerprint)?.[0];
    return first !== undefined && first.position < position ? first.credentialId : undefined;
  }
}
