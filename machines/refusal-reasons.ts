import type { MachineEvent } from './types.ts';

/**
 * Why a named guard refused an event, in words a user acts on: what the rule asks and what it found. Read only once
 * the machine has refused (evaluate.ts REFUSAL_REASONS), so it decides nothing; undefined when it has nothing to add
 * to the rule's name.
 */
export type RefusalReason<C = unknown> = (args: { context: C; event: MachineEvent }) => string | undefined;
export type RefusalReasons<C = unknown> = Readonly<Record<string, RefusalReason<C>>>;
