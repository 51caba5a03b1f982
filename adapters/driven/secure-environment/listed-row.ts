import { z } from 'zod';
import { KeyHandle, type KeyKind, type KeyUsage } from '../../../domain/ports/secure-environment.ts';

/** A key as listKeys shows it. */
export interface OwnedKey {
  readonly handle: KeyHandle;
  readonly kind: KeyKind;
  readonly usage?: KeyUsage;
  readonly ephemeral: boolean;
  readonly createdAt: string;
}

/** Every kind by name: an object, not a list, so that a kind added to KeyKind and not here fails the type check. */
const STORED_KINDS = {
  psk256: 'psk256',
  ed25519: 'ed25519',
  p256: 'p256',
  x25519: 'x25519',
  session256: 'session256',
  secret: 'secret',
} as const satisfies { readonly [K in KeyKind]: K };

/**
 * A key database row as listKeys may show it. Stored data is a boundary: a damaged or altered row can hold anything,
 * a terminal escape in its handle included, and a handle the port refuses, made a page's `next`, would make the
 * next page a TypeError and end the paging. Such a row is skipped without a word: it is no key any port call can
 * name (every call parses its handle), and one with a handle but other metadata opens nothing (the seal's AAD binds
 * them); the PKCS#11 listing passes over an object whose CKA_ID is no handle alike, and the port's page has no place
 * to count them.
 */
const ListedRow = z.object({
  handle: KeyHandle,
  kind: z.enum(STORED_KINDS),
  usage: z.enum(['sign', 'agree']).nullable(),
  created_at: z.iso.datetime(),
});

/** The stored key a row of the key database shows, or undefined when the row is none (ListedRow). */
export const ownedKeyOfRow = (row: unknown): OwnedKey | undefined => {
  const parsed = ListedRow.safeParse(row);
  if (!parsed.success) return undefined;
  const { handle, kind, usage, created_at: createdAt } = parsed.data;
  return { handle, kind, ...(usage !== null ? { usage } : {}), ephemeral: false, createdAt };
};
