import type { Role } from './role.ts';
import type { TokenScope } from './token-scope.ts';

export interface Principal {
  readonly subject: string;
  readonly role: Role;
  /** The token id (`jti`), what `credence token revoke` names. */
  readonly tokenId: string;
  /**
   * Who issued the token, as the log records it with every command the token sends (review 188): the issuer's subject,
   * or `cli` for a token made on the command line, whose OS account access.db alone keeps (review 189, token-verifier.ts).
   */
  readonly issuedBy: string;
  /**
   * The id of the token it was issued with, recorded beside `issuedBy` (review 196: a subject alone does not tell the
   * real admin from an admin token issued under its subject); absent for a token made on the command line.
   */
  readonly issuedWith?: string;
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
