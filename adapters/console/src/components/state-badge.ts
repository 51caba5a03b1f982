import { html } from 'lit';

export const badge = (state: string) => html`<span class="badge state-${state}">${state}</span>`;
