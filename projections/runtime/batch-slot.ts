import type Database from 'better-sqlite3';
import type { OpenBatch } from './types.ts';

/**
 * What a projection holds back during one batch (`Projection.beginBatch`): `apply` finds it with `held(db)` while
 * the batch is open on that connection, and writes at once otherwise. A batch runs synchronously inside one
 * transaction, so at most one is open per projection; `flush` and `discard` both close it.
 */
export class BatchSlot<T> {
  #open: { readonly db: Database.Database; readonly state: T } | undefined;

  held(db: Database.Database): T | undefined {
    return this.#open !== undefined && this.#open.db === db ? this.#open.state : undefined;
  }

  open(db: Database.Database, state: T, write: (db: Database.Database, state: T) => void): OpenBatch {
    const batch = { db, state };
    this.#open = batch;
    const close = () => {
      if (this.#open === batch) this.#open = undefined;
    };
    return {
      flush: () => {
        close();
        write(db, state);
      },
      discard: close,
    };
  }
}
