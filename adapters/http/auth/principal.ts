import type { Role } from './role.ts';
import type { TokenScope } from './token-scope.ts';

export interface Principal {
  readonly subject: string;
  readonly role: Role;
  /** The token id (`jti`), what `credence token revoke` names. */
  readonly tokenId: string;
  /** Who issued the token, as access.db records it: recorded with every command the token sends (review 188). */
  readonly issuedBy: string;
  readonly expiresAt: Date;
  /** The stakeholders its event stream is limited to, as access.db records them (SER-025); absent: the whole fleet. */
  readonly scope?: TokenScope;
}

export interface IssuedToken {
  readonly token: string;
  readonly tokenId: string;
  readonly subject: string;
  readonly role: Role;
  readonly expiresAt: Date;
  readonly scope?: TokenScope;
}
