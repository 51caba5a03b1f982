import type { z } from 'zod';
import { Pseudonym } from './events/pseudonym.ts';
import { AppId, AssociationId, CredentialId, M2MSubId, NodeId } from './ids.ts';
import type { EntityKind } from './streams.ts';

/**
 * The id rule of each kind of entity: the schema its events record the id under (events/index.ts ENTITY_ID_FIELD),
 * so a stream `<kind>-<id>` whose id breaks it is the stream of no entity there is or ever can be. One table for every
 * edge that takes a stream: the CLI's `<stream>` (bin/commands/options.ts StreamArg, review 218; `credence events
 * --stream`) and GET /v1/events' `stream` filter (adapters/http/sse/query.ts, review 229: `node-a b` was followed in
 * silence for ever, holding one of the few stream places).
 */
export const ENTITY_ID: Readonly<Record<EntityKind, z.ZodType<string>>> = {
  subscription: M2MSubId,
  node: NodeId,
  credential: CredentialId,
  application: AppId,
  association: AssociationId,
  pseudonym: Pseudonym,
};

/**
 * Why `id` can be no `kind`'s id, said by the kind's rule; undefined when it can be one. The id itself is never
 * repeated: it may hold control characters, and the rules' messages name no input.
 */
export const entityIdRefusal = (kind: EntityKind, id: string): string | undefined => {
  const parsed = ENTITY_ID[kind].safeParse(id);
  return parsed.success ? undefined : `the id after ${kind}-: ${parsed.error.issues[0]?.message ?? `not the id of a ${kind}`}`;
};
