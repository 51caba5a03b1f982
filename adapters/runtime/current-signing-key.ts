import { signingKeyHandles } from '../driven/access/signing-key-handles.ts';

/**
 * The handle of the API token signing key `<dataDir>/access.db` records as current, read only (nothing written, not
 * even the registry's schema); undefined without access.db or a key in it.
 */
export const currentSigningKeyOf = (dataDir: string): string | undefined => signingKeyHandles(dataDir).find((k) => k.retiredAt === undefined)?.handle;
