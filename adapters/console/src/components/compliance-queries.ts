import { html, nothing } from 'lit';
import { keyed } from 'lit/directives/keyed.js';
import { describeError, pathWith } from '../api.ts';
import { complianceCsvName } from '../compliance-csv-name.ts';
import { csvRowCount } from '../csv-rows.ts';
import { saveAs } from '../download.ts';
import { LatestRequest } from '../latest-request.ts';
import type { QueryName } from '../path-names.ts';
import { streamHref } from '../router.ts';
import { Catalog, ComplianceResult, type ComplianceResult as Result } from '../schemas.ts';
import { visibleText } from '../visible-text.ts';
import { behindCount, ConsolePage, IDLE, LOADING, renderLoad, renderRetry, type Load } from './base.ts';

const HINTS: Readonly<Record<string, string>> = {
  reason: 'RFC 5280 reason, e.g. keyCompromise',
  // Review 305: a date alone is 00:00 UTC, not the browser's midnight; `to` is excluded.
  from: 'ISO date or date-time, included; a date is that day\'s 00:00 UTC',
  to: 'ISO date or date-time, excluded; a date is that day\'s 00:00 UTC',
  by: 'occurred (default: when it took effect) or recorded (when it was recorded: for exports)',
  actor: 'actor id, e.g. operator:demo',
  tokenId: 'API token id, e.g. tok_… (never the token)',
  subscription: 'M2M-Sub-ID',
  days: 'number of days, e.g. 30',
  now: 'ISO instant (default: the server clock); a date is that day\'s 00:00 UTC',
  order: 'log (the default: in log order, paged with after) or newest (the latest limit rows, newest first)',
  limit: 'rows per answer, 1 to 10000 (default 1000)',
  after: 'the nextAfter the page before named, e.g. 1200~5e0306c9.0b5c4e7a (empty: the first page)',
};

/**
 * The parameters each query requires: the server refuses the query without them (400, rule `required`:
 * projections/compliance/catalog.ts), and its catalog names the parameters only. Marked `required` in the form, which
 * says so to assistive technology (the * beside the label is for the eye only: the field's name stays the parameter's), and asks for
 * them before any request (review 192).
 */
const REQUIRED: Readonly<Record<string, readonly string[]>> = { actions: ['actor'], expiring: ['days'], provisioned: ['subscription'] };

/**
 * A required parameter another stands in for, once given: `actions` are asked of an actor, of an API token (`tokenId`,
 * review 196) or of both, so `actor` is required only while `tokenId` is empty (the server refuses neither given).
 */
const UNLESS: Readonly<Record<string, Readonly<Record<string, string>>>> = { actions: { actor: 'tokenId' } };

/** Nested fields as dotted columns, like the server's CSV. */
const flatten = (row: Readonly<Record<string, unknown>>, prefix = '', into = new Map<string, unknown>()): Map<string, unknown> => {
  for (const [key, value] of Object.entries(row)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) flatten(value as Record<string, unknown>, `${prefix}${key}.`, into);
    else into.set(`${prefix}${key}`, value);
  }
  return into;
};

/** The compliance catalog (GET /v1/compliance), a form per query, the rows with the position proving each, and CSV. */
export class ComplianceQueries extends ConsolePage {
  static override properties = {
    ...ConsolePage.properties,
    catalog: { state: true },
    selected: { state: true },
    result: { state: true },
    csvError: { state: true },
    csvNote: { state: true },
    csvBehind: { state: true },
    csvRows: { state: true },
    given: { state: true },
  };
  declare catalog: Load<Catalog>;
  declare selected: string | undefined;
  declare result: Load<Result>;
  /** Why the last download failed: said with the wait the server asked for, and Retry when another try may do. */
  declare csvError: unknown;
  /** Said after a download of a cut answer. */
  declare csvNote: string | undefined;
  /** Said after a download of an answer from read models behind the store. */
  declare csvBehind: string | undefined;
  /** The rows of the last file downloaded: it is read afresh, and may hold other rows than the table shown. */
  declare csvRows: number | undefined;
  /** The fields of the shown query holding a value, which may stand in for a required one (UNLESS). */
  declare given: ReadonlySet<string>;
  private lastPath: string | undefined;
  /** The last query run (its name and the values asked with), which Retry runs again. */
  private lastRun: { readonly name: QueryName; readonly values: Readonly<Record<string, string>> } | undefined;
  private runs = 0;
  private abort = new AbortController();
  /**
   * The CSV download under way: it belongs to the query and values it started for (its path), and lands on no run of
   * others (review 277); a run of the same again (a refresh, Retry) keeps it (review 279: the file never came).
   */
  private readonly csvDownload = new LatestRequest();
  /** The path the download under way reads. */
  private csvPath: string | undefined;

  constructor() {
    super();
    this.catalog = IDLE;
    this.selected = undefined;
    this.result = IDLE;
    this.csvError = undefined;
    this.csvNote = undefined;
    this.csvBehind = undefined;
    this.csvRows = undefined;
    this.given = new Set();
  }

  /** Re-rendered only when a field turns empty or not: whether it stands in for a required one. */
  private noteGiven(param: string, value: string): void {
    if ((value.trim() !== '') === this.given.has(param)) return;
    const given = new Set(this.given);
    if (given.has(param)) given.delete(param);
    else given.add(param);
    this.given = given;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.catalog = LOADING;
    this.api.json('/v1/compliance', Catalog, this.abort.signal).then(
      (value) => {
        this.catalog = { state: 'ok', value };
        this.selected ??= value.queries[0]?.name;
      },
      (error: unknown) => {
        if (!this.abort.signal.aborted) this.catalog = { state: 'error', error };
      },
    );
  }

  override disconnectedCallback(): void {
    this.abort.abort();
    this.csvDownload.cancel();
    super.disconnectedCallback();
  }

  /** `name` is one the catalog's schema checked (a QueryName): it becomes a path segment of a request with the user's token. */
  private submit(event: SubmitEvent, name: QueryName, params: readonly string[]): void {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const values = Object.fromEntries(params.map((p) => [p, (form.elements.namedItem(`param-${p}`) as HTMLInputElement).value.trim()]));
    void this.run(name, values);
  }

  /** Retry, offered by a failed query worth another try: the same query with the same values, whatever the form holds now. */
  private retry(): void {
    if (this.lastRun !== undefined) void this.run(this.lastRun.name, this.lastRun.values);
  }

  private async run(name: QueryName, values: Readonly<Record<string, string>>): Promise<void> {
    this.lastRun = { name, values };
    const path = pathWith(`/v1/compliance/${encodeURIComponent(name)}`, values);
    // A download for other values would be of another answer than the one this run shows; one for the same path is
    // read afresh as this run is, and is what was asked for.
    if (path !== this.csvPath) this.csvDownload.cancel();
    this.result = LOADING;
    this.csvError = undefined;
    this.csvNote = undefined;
    this.csvBehind = undefined;
    this.csvRows = undefined;
    this.lastPath = undefined;
    // Only the latest run is shown (and downloaded): an earlier, slower answer is dropped.
    const run = ++this.runs;
    try {
      const value = await this.api.json(path, ComplianceResult, this.abort.signal);
      if (run !== this.runs) return;
      this.result = { state: 'ok', value };
      this.lastPath = path;
    } catch (error) {
      if (run === this.runs && !this.abort.signal.aborted) this.result = { state: 'error', error };
    }
  }

  /**
   * The server's own CSV (RFC 4180, formula cells neutralised), asked with `Accept: text/csv`, saved as a file. The query
   * is run again for it, so the file is as of the download, not of the table: the page says so beside the button, and
   * how many rows the file holds after it (review 248: it could differ from the table without a word).
   */
  private async downloadCsv(name: string): Promise<void> {
    const path = this.lastPath;
    if (path === undefined) return;
    // Saved and said only while no run of another path, nor another query chosen, nor another download, came since:
    // each of those cancels it. Aborted when the page is left too (disconnectedCallback).
    const asked = this.csvDownload.next();
    this.csvPath = path;
    this.csvError = undefined;
    this.csvRows = undefined;
    try {
      const csv = await this.api.text(path, 'text/csv', asked.signal);
      if (!asked.current()) return;
      this.csvRows = csvRowCount(csv.text);
      // A cut answer must not be saved as the whole (review 113): its name says so, and so does the page.
      saveAs(csv.text, 'text/csv', complianceCsvName(name, csv));
      this.csvNote = csv.truncated
        ? `The file holds this answer's rows only, and more match: its name ends in "-partial"; ${csv.nextAfter !== undefined ? `run the query again with after ${csv.nextAfter} for the next page` : 'narrow the parameters, or raise limit'}.`
        : undefined;
      // Nor one from read models behind the store, whose rows may miss what the unhandled events prove (review 152).
      this.csvBehind = csv.eventsBehind !== undefined
        ? `The read models were ${behindCount(csv.eventsBehind, csv.eventsBehindAtLeast)} event(s) behind the store when the server wrote this file: rows those events prove may be missing; its name says "-behind-${csv.eventsBehind}${csv.eventsBehindAtLeast === true ? '-or-more' : ''}". Run the query again shortly and download it again.`
        : undefined;
    } catch (error) {
      if (asked.current()) this.csvError = error;
    }
  }

  /** After a download: the rows the file holds, and whether they are as many as the table shows. */
  private renderCsvRows(inFile: number, shown: number) {
    const rows = (n: number): string => `${n} row${n === 1 ? '' : 's'}`;
    return inFile === shown
      ? html`<p class="meta" role="status" data-testid="csv-rows">The file downloaded holds ${rows(inFile)}, as the table does.</p>`
      : html`<p class="warning" role="status" data-testid="csv-rows">The file downloaded holds ${rows(inFile)}; the table below shows ${rows(shown)}, as read when the query ran. Run the query again to see what the file holds.</p>`;
  }

  private renderRows(result: Result) {
    // A stale answer must not read as an all-clear: rows the unhandled events prove may be missing.
    const behind = result.eventsBehind !== undefined && result.eventsBehind > 0
      ? html`<p class="warning" role="status" data-testid="events-behind">The read models were ${behindCount(result.eventsBehind, result.eventsBehindAtLeast)} event(s) behind the store when this was answered: rows those events prove may be missing. Run the query again shortly.</p>`
      : nothing;
    // A cut answer must not read as the whole: the server names where the next page starts when the query pages.
    const cut = result.truncated === true
      ? html`<p class="warning" role="status" data-testid="truncated">More rows match than this answer holds: ${result.nextAfter !== undefined ? html`set <code>after</code> to ${result.nextAfter} for the next page` : html`narrow the parameters, or raise <code>limit</code>`}.</p>`
      : nothing;
    if (result.rows.length === 0) {
      // The server cuts a page before it leaves out the rows the caller may not see (a pseudonym's, but to an auditor
      // who resolved it): a cut page may hold none while more follow. Review 253: it read "nothing matches", the next
      // page's `after` unsaid.
      return result.truncated === true
        ? html`${behind}${cut}<p class="empty" data-testid="rows">No rows shown on this page: the rows it read were left out, as rows you may not see (a pseudonym's, told only to an auditor who recorded a resolution of it). More may follow on the next page.</p>`
        : html`${behind}<p class="empty" data-testid="rows">No rows${result.eventsBehind ? ' yet' : ': nothing matches these parameters'}.</p>`;
    }
    const flat = result.rows.map((r) => flatten(r));
    const columns = ['position'];
    for (const row of flat) for (const c of row.keys()) if (!columns.includes(c)) columns.push(c);
    return html`${behind}${cut}<p class="meta"><span data-testid="row-count">${result.rows.length}</span> rows. Each row's position is the event in the log that proves it.</p>
      <div class="scroll"><table data-testid="rows">
        <thead><tr>${columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
        <tbody>${flat.map((row) => html`<tr>${columns.map((c) => {
          const value = row.get(c);
          const text = value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
          const href = c === 'streamId' ? streamHref(text) : undefined;
          return html`<td class=${c === 'position' ? 'num' : ''}>${href ? html`<a href=${href}>${visibleText(text)}</a>` : visibleText(text)}</td>`;
        })}</tr>`)}</tbody>
      </table></div>`;
  }

  /** The parameters as the server echoes them: what was asked, whatever the form shows by now. */
  private renderParams(params: Readonly<Record<string, string>>) {
    const given = Object.entries(params);
    return html`<p class="meta" data-testid="result-params">Asked with ${given.length === 0
      ? "no parameters (the query's defaults)"
      : given.map(([name, value], i) => html`${i > 0 ? ', ' : ''}<code>${name}=${visibleText(value)}</code>`)}.</p>`;
  }

  private renderForm(catalog: Catalog) {
    const query = catalog.queries.find((q) => q.name === this.selected) ?? catalog.queries[0];
    if (query === undefined) return html`<p class="empty">This server offers no compliance query.</p>`;
    // The fields are made anew for each query (keyed): reused by position, the values typed for one query were sent
    // under another's names (review 130: revocations' from=2000-01-01 went as expiring's now, and "No rows" read as
    // an all-clear).
    return html`<form class="query" @submit=${(e: SubmitEvent) => this.submit(e, query.name, query.params)}>
      <label for="query-name">Query</label>
      <select id="query-name" aria-describedby="query-help" @change=${(e: Event) => {
        this.selected = (e.target as HTMLSelectElement).value;
        this.given = new Set();
        this.runs++;
        this.csvDownload.cancel();
        this.lastRun = undefined;
        this.result = IDLE;
      }}>
        ${catalog.queries.map((q) => html`<option value=${q.name} ?selected=${q.name === query.name}>${q.name}</option>`)}
      </select>
      <p class="help" id="query-help">${query.summary}</p>
      ${query.params.length === 0 ? html`<p class="meta">No parameters.</p>` : nothing}
      ${(REQUIRED[query.name] ?? []).some((p) => query.params.includes(p))
        ? html`<p class="meta">Fields marked * are required.${Object.entries(UNLESS[query.name] ?? {})
          .filter(([p, other]) => query.params.includes(p) && query.params.includes(other))
          .map(([p, other]) => ` ${p} is not, once ${other} is given.`)}</p>`
        : nothing}
      ${keyed(query.name, html`${query.params.map((p) => {
        const other = UNLESS[query.name]?.[p];
        const required = REQUIRED[query.name]?.includes(p) === true && (other === undefined || !this.given.has(other));
        // The format said under the field and tied to it: as a placeholder only it went as soon as one typed, and
        // was not read by every screen reader (review 388, WCAG 3.3.2).
        const hint = HINTS[p];
        return html`<div class="field">
          <span><label for="param-${p}">${p}</label>${required ? html` <span class="required" aria-hidden="true">*</span>` : nothing}</span>
          <input id="param-${p}" name="param-${p}" autocomplete="off" maxlength="200" ?required=${required}
            aria-describedby=${hint === undefined ? nothing : `param-${p}-help`}
            @input=${(e: Event) => this.noteGiven(p, (e.target as HTMLInputElement).value)} />
          ${hint === undefined ? nothing : html`<p class="help" id="param-${p}-help">${hint}</p>`}
        </div>`;
      })}`)}
      <button type="submit">Run query</button>
    </form>`;
  }

  /**
   * One line said when a query answers, in a live region kept in place (the result's own section is made anew with
   * each answer, and a region made with its text is not said by every screen reader): review 388, WCAG 4.1.3.
   */
  private resultSummary(): string {
    if (this.result.state !== 'ok') return '';
    const { rows, truncated, eventsBehind, eventsBehindAtLeast } = this.result.value;
    const count = `${rows.length} row${rows.length === 1 ? '' : 's'}`;
    return `${count}${truncated === true ? ' shown; more match' : ''}${eventsBehind !== undefined && eventsBehind > 0 ? `; the read models were ${behindCount(eventsBehind, eventsBehindAtLeast)} event(s) behind` : ''}.`;
  }

  override render() {
    const role = this.session.role;
    return html`<h2 tabindex="-1">Compliance queries</h2>
      ${renderLoad(this.catalog, role, 'the compliance queries', (catalog) => this.renderForm(catalog))}
      <p class="visually-hidden" role="status" data-testid="result-status">${this.resultSummary()}</p>
      ${renderLoad(this.result, role, 'the query result', (result) => html`<section aria-labelledby="result-heading">
        <h3 id="result-heading">Result of ${result.query}</h3>
        ${this.renderParams(result.params)}
        <p class="meta"><button type="button" class="secondary" aria-describedby="csv-afresh" @click=${() => this.downloadCsv(result.query)}>Download CSV</button>
          <span id="csv-afresh">The file is read from the server afresh when you download it, as of then: its rows may differ from the table below.</span></p>
        ${this.csvRows !== undefined ? this.renderCsvRows(this.csvRows, result.rows.length) : nothing}
        ${this.csvError !== undefined
          ? html`<p class="error" role="alert">Could not download the CSV: ${describeError(this.csvError)} ${renderRetry(this.csvError, () => void this.downloadCsv(result.query))}</p>`
          : nothing}
        ${this.csvNote ? html`<p class="warning" role="status" data-testid="csv-partial">${this.csvNote}</p>` : nothing}
        ${this.csvBehind ? html`<p class="warning" role="status" data-testid="csv-behind">${this.csvBehind}</p>` : nothing}
        ${this.renderRows(result)}
      </section>`, () => this.retry())}`;
  }
}
