/** Entry counts of the fold (read-only), to check that it follows the live fleet and not the history. */
export interface PublicIdentitiesSize {
  readonly epochs: number;
  readonly cseIds: number;
  readonly credentials: number;
  readonly endedCredentials: number;
  readonly awaitingCredentials: number;
  readonly associations: number;
  readonly associationIndex: number;
  readonly endedNodes: number;
  readonly endedApps: number;
  readonly released: number;
  readonly enrolments: number;
  readonly appCredentials: number;
}
