export { COMMAND_CATALOG, COMMAND_TYPES, COMMAND_FOR_EVENT } from './catalog.ts';
export type { CommandType } from './catalog.ts';
export { CommandMetadata, CommandSchema, parseCommand, targetOf } from './command.ts';
export type { Command } from './command.ts';
export { decide } from './decide.ts';
export { NEW_REVOCATION_REASONS, REFUSED_REVOCATION_REASONS } from './revocation-rules.ts';
export { PRINTABLE_REASON_RULE, ResolutionReason } from './resolution-reason.ts';
export { command } from './build.ts';
export type { CommandOptions } from './build.ts';
