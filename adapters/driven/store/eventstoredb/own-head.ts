/**
 * The newest record Credence wrote to $all: what a stream opened "from now" hands out as where it starts (the port's
 * `ownHeadPosition`). The head of $all may be another application's record on a cluster shared with it, and that
 * record leaves $all once its stream is deleted or trimmed and the server scavenges (docs/eventstoredb.md): a client
 * resuming after it was then refused, and a read from it fails ("Trying to read from an invalid position"). Credence
 * never removes its own records, so their positions stay readable.
 */
import { isOwnStream } from '../../../../domain/own-record.ts';
import { isSystemEvent } from './codec.ts';
import type { EsdbDriver, WireEvent } from './driver.ts';

/**
 * The sizes of the pages a scan back from the end of $all reads, in turn, the last one on until the scan ends. The first
 * record alone answers most calls (the newest record is Credence's, or the one the last scan ended on), and another
 * application's records may be megabytes each (review 386: a 256-record page of them read at every live tick and
 * every /readyz): a scan reads more only while what it read must be passed over, in pages that grow.
 */
const PAGES = [1, 16, 64, 256] as const;

/** How many records the `index`-th page (from 0) of a scan back from the end of $all asks for. */
export const backwardPageSize = (index: number): number => PAGES[Math.min(index, PAGES.length - 1)]!;

/**
 * A record in a stream Credence writes: an entity's (its events and the fact claims on it) or a command id's claim
 * (append.ts). What another application writes sits in streams of its own (decode reads those as foreign).
 */
export const isOwnRecord = (event: WireEvent): boolean => !isSystemEvent(event) && isOwnStream(event.streamId);

/**
 * Where a scan began, and what it found: the next scan reads the record at the end of $all and, when others came
 * since, those back to this one (its last page may reach a few records past it), not the records behind it again.
 */
interface Scanned {
  /** The newest record of $all then, and its id: a scan that finds another record there (scavenged, a restore) forgets. */
  readonly newest: bigint;
  readonly newestId: string;
  readonly own: bigint | undefined;
}

/**
 * Scans $all backwards from its end, page by page, past other applications' records and system ones, down to the
 * newest record Credence wrote, or down to where the previous scan began when that record is still there: another
 * application's busy stream is then read once, not at every call.
 */
export class OwnHead {
  private scanned: Scanned | undefined;

  constructor(private readonly driver: EsdbDriver) {}

  async position(): Promise<bigint | undefined> {
    return (await this.scan()).own;
  }

  /**
   * Credence's newest record and the newest record of $all (any, system ones included) from one scan, its first read
   * the one record at the end: `own` at or before `newest`, which is where the log ended when the scan began. When
   * that record is the one the last scan began at, nothing came since and that one read answers.
   */
  async scan(): Promise<{ readonly newest: bigint | undefined; readonly own: bigint | undefined }> {
    const before = this.scanned;
    let from: bigint | 'end' = 'end';
    let newest: WireEvent | undefined;
    for (let index = 0; ; index++) {
      const maxCount = backwardPageSize(index);
      const page = await this.driver.readAllBackwards({ before: from, maxCount });
      newest ??= page[0];
      for (const event of page) {
        if (event.position === undefined) continue;
        if (isOwnRecord(event)) return this.found(newest!, event.position);
        // Nothing of Credence's since the last scan began, at a record still there: what it found stands. A record
        // gone from there (scavenged, a store restored) makes this scan look on.
        if (event.position === before?.newest && event.id === before.newestId) return this.found(newest!, before.own);
      }
      const oldest = page.at(-1);
      if (oldest?.position === undefined || page.length < maxCount) return this.found(newest, undefined);
      from = oldest.position;
    }
  }

  private found(newest: WireEvent | undefined, own: bigint | undefined): { newest: bigint | undefined; own: bigint | undefined } {
    this.scanned = newest?.position === undefined ? undefined : { newest: newest.position, newestId: newest.id, own };
    return { newest: newest?.position, own };
  }
}

/**
 * The newest record Credence wrote among the newest `records` of $all (system ones counted), or undefined when none
 * is there: one read, however many records other applications wrote since. For a check that must not scan a shared
 * cluster's whole tail before a service listens (review 280 #1); `OwnHead` scans on for where to resume.
 */
export const ownRecordAmongNewest = async (driver: EsdbDriver, records: number): Promise<bigint | undefined> => {
  const page = await driver.readAllBackwards({ before: 'end', maxCount: records });
  return page.find((event) => event.position !== undefined && isOwnRecord(event))?.position;
};
