import { html } from 'lit';
import type { StateAt } from '../schemas.ts';
import { LOADING, renderLoad, type Load } from './base.ts';
import { visibleText } from '../visible-text.ts';

export interface StateSlider {
  /** The entity's life (slider-range.ts). */
  readonly range: { readonly min: number; readonly max: number; readonly step: number };
  /** The instant chosen; the last when none is yet. */
  readonly chosen: number | undefined;
  /** The state last read. */
  readonly state: Load<StateAt>;
  /** The state at `chosen` is being read: `state` may be of another instant. */
  readonly reading: boolean;
  readonly role: string;
  readonly moveTo: (at: number) => void;
  /** To the next event or the one before. */
  readonly jump: (direction: 1 | -1) => void;
  /** Reads the state at `chosen` again: offered after a failure worth another try, with the server's wait. */
  readonly retry: () => void;
}

/** The time slider over the entity's life and the state at the instant chosen. */
export const renderStateSlider = ({ range, chosen, state, reading, role, moveTo, jump, retry }: StateSlider) => {
  const { min, max, step } = range;
  const at = chosen ?? max;
  // A failure of another instant is not kept beside this one; a state is, marked as being read again (review 277).
  const shown = reading && state.state === 'error' ? LOADING : state;
  return html`<section class="slider" aria-labelledby="slider-heading">
    <h3 id="slider-heading">State at an instant</h3>
    <div class="slider-row">
      <button type="button" class="secondary" @click=${() => jump(-1)} aria-label="Previous event">◀</button>
      <input id="instant" type="range" min=${min} max=${max} step=${step} .value=${String(at)}
        aria-label="Instant" aria-valuetext=${new Date(at).toISOString()}
        @input=${(e: Event) => moveTo(Number((e.target as HTMLInputElement).value))} />
      <button type="button" class="secondary" @click=${() => jump(1)} aria-label="Next event">▶</button>
    </div>
    <p><time data-testid="instant">${new Date(at).toISOString()}</time></p>
    ${renderLoad(shown, role, 'the state at this instant', (s) =>
      // A live region, so the state at the instant moved to is said (review 388, WCAG 4.1.3); busy while it is read, so
      // what is said is the state read, once.
      html`<p class="state-at" role="status" aria-busy=${reading ? 'true' : 'false'}>${reading
          ? html`<span class="loading" data-testid="state-reading">Reading the state at this instant…; until then, as of ${visibleText(s.at)}:</span> `
          : ''}State: <strong data-testid="state-at">${s.state}</strong>
        ${s.asOf ? html`<span class="meta">after ${s.events} event${s.events === 1 ? '' : 's'}, the last ${s.asOf.type} (revision ${s.asOf.revision}, position ${s.asOf.position})</span>` : html`<span class="meta">before its first event</span>`}</p>`,
      retry,
    )}
  </section>`;
};
