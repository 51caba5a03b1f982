/** A finding as another one names it: its stream and global position (one record's). */
export interface FindingRef {
  readonly streamId: string;
  readonly position: bigint;
}

export interface Finding {
  readonly streamId: string;
  readonly position: bigint;
  readonly revision: bigint;
  readonly type: string;
  readonly reason: string;
  /** A refusal by a guard: the machine rule that refused the event (the machines' `Verdict.rule`). */
  readonly rule?: string;
  /**
   * A refusal by a rule newer than the event may be (RULES_SINCE): the machines version that added `rule` for this
   * event type. Carried from the refusal, not read back from `reason`'s words; the one entity's too (review 323:
   * `credence state --at` and `credence history` tell such a finding from a broken history by it).
   */
  readonly ruleSince?: string;
  /**
   * A refusal that follows from an earlier finding (finding-causes.ts): the event's entity, or (in the fleet verdict) an
   * entity whose fact it read, was left behind by that finding's event, which replay did not record. The first such
   * finding, never one that itself follows. One entity's replay links its own stream's findings (review 325), and a
   * finding of an entity it read only where that one is by a newer rule or follows one (review 334).
   */
  readonly followsFrom?: FindingRef;
}
