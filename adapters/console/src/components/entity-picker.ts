import { html } from 'lit';
import { ENTITY_KINDS } from '../../../../domain/streams.ts';
import { entityHref } from '../router.ts';

/** The form that opens an entity by kind and id (or the list of a kind, without an id). */
export const renderPicker = (kind: string, entityId: string | undefined) =>
  html`<form class="inline" @submit=${(e: SubmitEvent) => open(e)}>
      <label for="entity-kind">Kind</label>
      <select id="entity-kind" name="kind" .value=${kind}>
        ${ENTITY_KINDS.map((k) => html`<option value=${k} ?selected=${k === kind}>${k}</option>`)}
      </select>
      <label for="entity-id">Id</label>
      <input id="entity-id" name="id" .value=${entityId ?? ''} placeholder="e.g. meter-1" autocomplete="off" maxlength="256" />
      <button type="submit">Open</button>
    </form>`;

const open = (event: SubmitEvent): void => {
  event.preventDefault();
  const form = event.target as HTMLFormElement;
  const kind = (form.elements.namedItem('kind') as HTMLSelectElement).value;
  const id = (form.elements.namedItem('id') as HTMLInputElement).value.trim();
  location.hash = id === '' ? `#/entity/${encodeURIComponent(kind)}` : entityHref(kind, id);
};
