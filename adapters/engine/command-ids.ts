import { randomUUID } from 'node:crypto';

/** A fresh command id for a caller that gave none (randomness stays in adapters). */
export const randomCommandId = (): string => randomUUID();
