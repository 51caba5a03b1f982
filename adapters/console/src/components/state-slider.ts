import { html } from 'lit';
import type { StateAt } from '../schemas.ts';
import { renderLoad, type Load } from './base.ts';

/**
 * The time slider over the entity's life (`range`: slider-range.ts) and the state at the instant chosen (the last
 * when none is yet); `moveTo` an instant, or `jump` to the next event or the one before.
 */
export const renderStateSlider = (
  range: { min: number; max: number; step: number },
  chosen: number | undefined,
  state: Load<StateAt>,
  role: string,
  moveTo: (at: number) => void,
  jump: (direction: 1 | -1) => void,
) => {
  const { min, max, step } = range;
  const at = chosen ?? max;
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
    ${renderLoad(state, role, 'the state at this instant', (s) =>
      html`<p class="state-at">State: <strong data-testid="state-at">${s.state}</strong>
        ${s.asOf ? html`<span class="meta">after ${s.events} event${s.events === 1 ? '' : 's'}, the last ${s.asOf.type} (revision ${s.asOf.revision}, position ${s.asOf.position})</span>` : html`<span class="meta">before its first event</span>`}</p>`,
    )}
  </section>`;
};
