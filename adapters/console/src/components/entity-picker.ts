import { html, nothing } from 'lit';
import { ENTITY_KINDS } from '../../../../domain/streams.ts';
import { ENTITY_ID_INPUT_CHARS, entityIdRefusal } from '../path-names.ts';
import { entityHref } from '../router.ts';
import type { Session } from '../session.ts';

/**
 * The kinds offered to `role`: the service lists pseudonyms to an auditor alone and opens one only for an auditor who
 * resolved it (adapters/http/routes/entities.ts refusePseudonymListing), so to any other role the option led only to
 * a 403. The kind of the page open stays offered, so the picker does not name another kind than the page's (an
 * address reached by hand still shows the server's refusal).
 */
const kindsFor = (role: Session['role'], kind: string): readonly string[] =>
  ENTITY_KINDS.filter((k) => k !== 'pseudonym' || role === 'auditor' || k === kind);

/**
 * The form that opens an entity by kind and id (or the list of a kind, without an id). An id not of the domain's form
 * opens nothing and `onRefusal` is told why (the address would drop it and show the list without a word: review
 * 130); `refusal` is what the page holds to say, undefined once an id is opened. The kinds offered follow the signed-in
 * `role` (kindsFor).
 */
export const renderPicker = (
  role: Session['role'],
  kind: string,
  entityId: string | undefined,
  refusal: string | undefined,
  onRefusal: (refusal: string | undefined) => void,
) =>
  html`<form class="inline" @submit=${(e: SubmitEvent) => open(e, onRefusal)}>
      <label for="entity-kind">Kind</label>
      <select id="entity-kind" name="kind" .value=${kind}>
        ${kindsFor(role, kind).map((k) => html`<option value=${k} ?selected=${k === kind}>${k}</option>`)}
      </select>
      <label for="entity-id">Id</label>
      <input id="entity-id" name="id" .value=${entityId ?? ''} placeholder="e.g. meter-1" autocomplete="off" maxlength=${ENTITY_ID_INPUT_CHARS}
        aria-invalid=${refusal !== undefined ? 'true' : 'false'} aria-describedby=${refusal !== undefined ? 'entity-id-refused' : nothing} />
      <button type="submit">Open</button>
    </form>
    ${refusal !== undefined ? html`<p id="entity-id-refused" class="error" role="alert" data-testid="id-refused">${refusal}</p>` : nothing}`;

const open = (event: SubmitEvent, onRefusal: (refusal: string | undefined) => void): void => {
  event.preventDefault();
  const form = event.target as HTMLFormElement;
  const kind = (form.elements.namedItem('kind') as HTMLSelectElement).value;
  const id = (form.elements.namedItem('id') as HTMLInputElement).value.trim();
  const refused = id === '' ? undefined : entityIdRefusal(id);
  onRefusal(refused === undefined ? undefined : `${refused}; nothing was opened.`);
  if (refused !== undefined) return;
  location.hash = id === '' ? `#/entity/${encodeURIComponent(kind)}` : entityHref(kind, id);
};
