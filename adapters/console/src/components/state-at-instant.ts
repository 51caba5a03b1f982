import { nothing, type ReactiveController, type ReactiveControllerHost } from 'lit';
import type { StateAt, TimelineEntry } from '../schemas.ts';
import { IDLE, LOADING, type Load } from './base.ts';
import { instants, nextInstant, sliderRange } from './slider-range.ts';
import { renderStateSlider } from './state-slider.ts';

const STATE_DEBOUNCE_MS = 120;

/** How the page reads its entity's state at an instant, and the signal of the entity it shows. */
export type StateAtReader = {
  /** Undefined while no entity is shown. */
  readonly read: (at: number, signal: AbortSignal) => Promise<StateAt> | undefined;
  readonly signal: () => AbortSignal;
};

/**
 * The entity view's time slider: the instant chosen and the state read for it. A move is read after a pause
 * (`STATE_DEBOUNCE_MS`), and only the answer to the latest move is shown. Until it is, the state shown stays, marked as
 * being read again (`reading`): unmarked beside the new instant, it read as that instant's (review 277).
 */
export class StateAtInstant implements ReactiveController {
  at: number | undefined = undefined;
  stateAt: Load<StateAt> = IDLE;
  /** The slider was moved, or Retry pressed, and the state at its instant is not read yet. */
  reading = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #request = 0;

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly reader: StateAtReader,
  ) {
    host.addController(this);
  }

  hostDisconnected(): void {
    clearTimeout(this.#timer);
  }

  /** Another entity is shown: the previous entity's slider must not ask for, or show, a state of this one. */
  forget(): void {
    clearTimeout(this.#timer);
    this.#request++;
    this.stateAt = IDLE;
    this.reading = false;
    this.at = undefined;
    this.host.requestUpdate();
  }

  moveTo(at: number): void {
    this.at = at;
    this.reading = true;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#read(at), STATE_DEBOUNCE_MS);
    this.host.requestUpdate();
  }

  /** The slider at the entity's last change (or its last event shown). */
  moveToLast(entries: readonly TimelineEntry[], updatedAt: string | undefined): void {
    this.moveTo(sliderRange(instants(entries, updatedAt)).max);
  }

  render(entries: readonly TimelineEntry[], updatedAt: string | undefined, role: string) {
    if (entries.length === 0) return nothing;
    const times = instants(entries, updatedAt);
    return renderStateSlider({
      range: sliderRange(times),
      chosen: this.at,
      state: this.stateAt,
      reading: this.reading,
      role,
      moveTo: (at) => this.moveTo(at),
      jump: (direction) => {
        const target = nextInstant(times, this.at ?? Date.now(), direction);
        if (target !== undefined) this.moveTo(target);
      },
      // The instant the slider is at, read again at once: a failure worth another try offers it (docs/console.md).
      retry: () => {
        if (this.at === undefined) return;
        clearTimeout(this.#timer);
        this.reading = true;
        void this.#read(this.at);
      },
    });
  }

  async #read(at: number): Promise<void> {
    const signal = this.reader.signal();
    const reading = this.reader.read(at, signal);
    if (reading === undefined) {
      this.reading = false;
      this.host.requestUpdate();
      return;
    }
    const request = ++this.#request;
    if (this.stateAt.state !== 'ok') this.#show(LOADING);
    let load: Load<StateAt>;
    try {
      load = { state: 'ok', value: await reading };
    } catch (error) {
      load = { state: 'error', error };
    }
    if (signal.aborted || request !== this.#request) return;
    // Another move waiting out its pause is still to be read.
    this.reading = at !== this.at;
    this.#show(load);
  }

  #show(load: Load<StateAt>): void {
    this.stateAt = load;
    this.host.requestUpdate();
  }
}
