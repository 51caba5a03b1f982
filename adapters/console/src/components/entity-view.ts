import { html, nothing, type PropertyValues } from 'lit';
import { describeError, entityPath } from '../api.ts';
import { loadDependencies, type DependencyGraph } from '../dependencies.ts';
import { verifyHref } from '../router.ts';
import { Entity, EntityPage, StateAt, type TimelineEntry } from '../schemas.ts';
import { ConsolePage, formatTime, IDLE, LOADING, renderBehind, renderLoad, type Load } from './base.ts';
import { renderGraph } from './entity-graph.ts';
import { readFirstPage, readPage, readTimelineAgain, renderTimeline, shownPages, type PageRead } from './entity-timeline.ts';
import { renderEntityList, type EntityList } from './entity-list.ts';
import { renderPicker } from './entity-picker.ts';
import { ReadAgainWhileBehind } from '../read-again.ts';
import { visibleText } from '../visible-text.ts';
import { instants, nextInstant, sliderRange } from './slider-range.ts';
import { badge } from './state-badge.ts';
import { renderStateSlider } from './state-slider.ts';
import { entityTooLong, type TimelinePages } from '../timeline-pages.ts';
import { renderTooLong } from './timeline-table.ts';

const BROWSE_PAGE = 50;
const STATE_DEBOUNCE_MS = 120;

/** One entity: its timeline, its state at any instant (time slider), and what depends on it. Without an id: a list to pick from. */
export class EntityView extends ConsolePage {
  static override properties = {
    ...ConsolePage.properties,
    kind: { attribute: false },
    entityId: { attribute: false },
    entity: { state: true },
    timeline: { state: true },
    nextPage: { state: true },
    stateAt: { state: true },
    at: { state: true },
    graph: { state: true },
    browse: { state: true },
    behind: { state: true },
    refusal: { state: true },
  };
  declare kind: string;
  declare entityId: string | undefined;
  declare entity: Load<Entity>;
  /** The pages of the timeline read so far (timeline-pages.ts): it is never read whole. */
  declare timeline: Load<TimelinePages>;
  declare nextPage: PageRead;
  declare stateAt: Load<StateAt>;
  declare at: number | undefined;
  declare graph: Load<DependencyGraph>;
  declare browse: Load<EntityList>;
  /** Events the read models behind the timeline and the graph had not handled when they were read (0: none). */
  declare behind: number;
  /** Why the id typed into the picker opened nothing (entity-picker.ts). */
  declare refusal: string | undefined;
  private abort = new AbortController();
  private readonly readAgain = new ReadAgainWhileBehind();
  /** The entity the graph of what depends on it was read for (its state, or none when too long): read again with it. */
  private graphRoot: Pick<Entity, 'state' | 'context'> | undefined;
  private stateTimer: ReturnType<typeof setTimeout> | undefined;
  private stateRequest = 0;
  private listRequest = 0;

  constructor() {
    super();
    this.kind = 'node';
    this.entityId = undefined;
    this.entity = IDLE;
    this.timeline = IDLE;
    this.nextPage = IDLE;
    this.stateAt = IDLE;
    this.at = undefined;
    this.graph = IDLE;
    this.browse = IDLE;
    this.behind = 0;
    this.refusal = undefined;
  }

  override disconnectedCallback(): void {
    this.abort.abort();
    clearTimeout(this.stateTimer);
    this.readAgain.reset();
    super.disconnectedCallback();
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('kind') || changed.has('entityId')) {
      this.abort.abort();
      this.abort = new AbortController();
      // A read again of the page left (its kind, its cursor) must not land on this one (found in review).
      this.readAgain.reset();
      this.refusal = undefined;
      if (this.entityId === undefined) void this.loadList([]);
      else void this.load(this.kind, this.entityId);
    }
  }

  private async settle<T>(promise: Promise<T>, set: (load: Load<T>) => void): Promise<T | undefined> {
    const signal = this.abort.signal;
    try {
      const value = await promise;
      if (!signal.aborted) set({ state: 'ok', value });
      return value;
    } catch (error) {
      if (!signal.aborted) set({ state: 'error', error });
      return undefined;
    }
  }

  private async loadList(cursors: readonly string[], again = false): Promise<void> {
    // Only the latest list asked for is shown: a read again still in flight when the user pages must not put its
    // page back (found in review).
    const request = ++this.listRequest;
    if (!again) {
      this.readAgain.reset();
      this.browse = LOADING;
      this.behind = 0;
    }
    const cursor = cursors.at(-1);
    const path = `/v1/entities?kind=${encodeURIComponent(this.kind)}&limit=${BROWSE_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const signal = this.abort.signal;
    let behind = 0;
    await this.settle(
      this.api.jsonBehind(path, EntityPage, signal).then(({ value, eventsBehind }) => {
        behind = eventsBehind;
        return { ...value, cursors };
      }),
      (l) => {
        if (request !== this.listRequest) return;
        this.browse = l;
        // The warning stays until the answer read again says otherwise.
        this.behind = behind;
      },
    );
    // The list read again, on the same page, while its read model is behind (a revoked credential listed live).
    if (!signal.aborted && request === this.listRequest) this.readAgain.after(behind > 0, () => void (signal.aborted || this.loadList(cursors, true)));
  }

  private async load(kind: string, id: string): Promise<void> {
    const signal = this.abort.signal;
    // The previous entity's slider must not ask for a state of this one.
    clearTimeout(this.stateTimer);
    this.stateRequest++;
    this.entity = LOADING;
    this.timeline = LOADING;
    this.nextPage = IDLE;
    this.stateAt = IDLE;
    this.graph = IDLE;
    this.at = undefined;
    this.behind = 0;
    this.graphRoot = undefined;
    this.readAgain.reset();
    let refused: unknown;
    const [entity] = await Promise.all([
      this.settle(
        this.api.json(entityPath(kind, id), Entity, signal).catch((error: unknown) => {
          refused = error;
          throw error;
        }),
        (l) => (this.entity = l),
      ),
      readFirstPage(this, kind, id, signal),
    ]);
    if (signal.aborted) return;
    // An entity too long to rebuild in one request (422 entity_too_long) has no state to show, but its timeline pages
    // and what depends on it are read all the same.
    if (entity === undefined && entityTooLong(refused) === undefined) return;
    const shown = shownPages(this)?.entries ?? [];
    if (entity !== undefined && shown.length > 0) this.moveTo(this.range(shown).max);
    const root = entity ?? { state: '', context: {} };
    this.graphRoot = root;
    this.graph = LOADING;
    await this.settle(this.readGraph(kind, id, root, signal), (l) => (this.graph = l));
    this.readAgainWhileBehind(kind, id, root, signal);
  }

  /** Retry, offered by a failed read worth another try: the whole page read again, as on opening it. */
  private retry(id: string): void {
    this.abort.abort();
    this.abort = new AbortController();
    void this.load(this.kind, id);
  }

  /** "Load more events": the next page, one read at a time; a failure is shown below the entries already shown. */
  private async loadMore(): Promise<void> {
    const id = this.entityId;
    if (id === undefined || this.nextPage.state === 'loading') return;
    const signal = this.abort.signal;
    this.nextPage = LOADING;
    try {
      await readPage(this, this.kind, id, signal);
      if (signal.aborted) return;
      this.nextPage = IDLE;
      // A page read while the read model was behind is read again as the first was (found in review: the notice said
      // so, but nothing read it again once the first load's rounds had ended).
      if (this.graphRoot !== undefined) this.readAgainWhileBehind(this.kind, id, this.graphRoot, signal);
    } catch (error) {
      if (!signal.aborted) this.nextPage = { state: 'error', error };
    }
  }

  private async readGraph(kind: string, id: string, entity: Pick<Entity, 'state' | 'context'>, signal: AbortSignal): Promise<DependencyGraph> {
    const graph = await loadDependencies(this.api, { kind, id, state: entity.state, context: entity.context }, signal);
    this.behind = Math.max(this.behind, graph.eventsBehind);
    return graph;
  }

  /**
   * A timeline or graph read from read models behind the store may miss the latest events (a revocation): they are
   * read again until the read models have caught up, the slider left where the user put it.
   */
  private readAgainWhileBehind(kind: string, id: string, entity: Pick<Entity, 'state' | 'context'>, signal: AbortSignal): void {
    if (signal.aborted) return;
    this.readAgain.after(this.behind > 0, async () => {
      this.behind = 0;
      await Promise.all([
        readTimelineAgain(this, kind, id, signal),
        this.settle(this.readGraph(kind, id, entity, signal), (l) => (this.graph = l)),
      ]);
      this.readAgainWhileBehind(kind, id, entity, signal);
    });
  }

  /** The instants of the events shown and of the entity's last change (slider-range.ts). */
  private instants(entries: readonly TimelineEntry[]): number[] {
    return instants(entries, this.entity.state === 'ok' ? this.entity.value.updatedAt : undefined);
  }

  private range(entries: readonly TimelineEntry[]): { min: number; max: number; step: number } {
    return sliderRange(this.instants(entries));
  }

  private moveTo(at: number): void {
    this.at = at;
    clearTimeout(this.stateTimer);
    this.stateTimer = setTimeout(() => void this.fetchState(at), STATE_DEBOUNCE_MS);
  }

  private async fetchState(at: number): Promise<void> {
    if (this.entityId === undefined) return;
    const request = ++this.stateRequest;
    if (this.stateAt.state !== 'ok') this.stateAt = LOADING;
    const path = `${entityPath(this.kind, this.entityId)}/state?at=${encodeURIComponent(new Date(at).toISOString())}`;
    // Only the answer to the latest position of the slider is shown.
    await this.settle(this.api.json(path, StateAt, this.abort.signal), (l) => {
      if (request === this.stateRequest) this.stateAt = l;
    });
  }

  private jump(entries: readonly TimelineEntry[], direction: 1 | -1): void {
    const target = nextInstant(this.instants(entries), this.at ?? Date.now(), direction);
    if (target !== undefined) this.moveTo(target);
  }

  private renderSlider(entries: readonly TimelineEntry[]) {
    if (entries.length === 0) return nothing;
    return renderStateSlider(this.range(entries), this.at, this.stateAt, this.session.role, (at) => this.moveTo(at), (direction) => this.jump(entries, direction));
  }

  /**
   * What depends on the entity, read once the entity is (its state and context say which dependents to ask for). An
   * entity that could not be read leaves it unread, and the section says so: blank, it read as "nothing depends on it"
   * (review 223).
   */
  private renderDependents(name: string, tooLong: boolean) {
    if (this.entity.state === 'error' && !tooLong) {
      return html`<p class="warning" role="status" data-testid="graph-not-read">Not read: ${name} itself could not be read (${describeError(this.entity.error)}), so what depends on it is not known.</p>`;
    }
    return renderLoad(this.graph, this.session.role, 'the dependency graph', (graph) => renderGraph(graph, name));
  }

  override render() {
    const role = this.session.role;
    const id = this.entityId;
    if (id === undefined) {
      return html`<h2 tabindex="-1">Entities</h2>${renderPicker(this.kind, id, this.refusal, (refusal) => (this.refusal = refusal))}${renderBehind(this.behind, 'this list')}${renderEntityList(
        this.browse,
        role,
        this.kind,
        (cursors) => this.loadList(cursors),
      )}`;
    }
    const tooLong = this.entity.state === 'error' ? entityTooLong(this.entity.error) : undefined;
    return html`<h2 tabindex="-1">${this.kind}-${id}</h2>
      ${renderPicker(this.kind, id, this.refusal, (refusal) => (this.refusal = refusal))}
      ${tooLong !== undefined
        ? renderTooLong(tooLong)
        : renderLoad(
            this.entity,
            role,
            `${this.kind}-${id}`,
            (e) => html`<p class="entity-head">Now ${badge(e.state)} at revision ${e.revision}${e.position !== undefined ? ` (position ${e.position}), last changed ${formatTime(e.updatedAt)}` : ''}.
              <a class="button-link" href=${verifyHref(e.kind, e.id)}>Verify its evidence bundle in this browser</a></p>
              ${e.broken !== undefined
                ? html`<p class="bad" role="alert" data-testid="entity-broken">Broken history: its machine refuses the stored event${e.broken.position !== undefined ? ` at position ${e.broken.position}` : ''} (${visibleText(e.broken.reason)}). The state shown is what its accepted events leave; its timeline is what was recorded.</p>`
                : nothing}`,
            () => this.retry(id),
          )}
      ${this.timeline.state === 'ok' && this.entity.state === 'ok' ? this.renderSlider(this.timeline.value.entries) : nothing}
      ${renderBehind(this.behind, 'the timeline and what depends on it')}
      <div class="columns wide-left">
        <section aria-labelledby="timeline-heading">
          <h3 id="timeline-heading">Timeline</h3>
          ${renderLoad(this.timeline, role, 'the timeline', (pages) => renderTimeline(pages, this.nextPage, role, () => void this.loadMore()), () => this.retry(id))}
        </section>
        <section aria-labelledby="graph-heading">
          <h3 id="graph-heading">What depends on it</h3>
          ${this.renderDependents(`${this.kind}-${id}`, tooLong !== undefined)}
        </section>
      </div>`;
  }
}
