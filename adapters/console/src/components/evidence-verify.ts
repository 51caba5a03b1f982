import { readNamedJsonText } from '../../../../domain/json-duplicate-names.ts';
import { parseStreamId } from '../../../../domain/streams.ts';
import { html, nothing, type PropertyValues } from 'lit';
import { ENTITY_KINDS } from '../../../../domain/streams.ts';
import { signatureTable, tamperedCopy, verifyBundle, type BundleReport, type SignatureRow } from '../evidence.ts';
import { saveAs } from '../download.ts';
import { LatestRequest } from '../latest-request.ts';
import { ENTITY_ID_INPUT_CHARS, entityIdRefusal } from '../path-names.ts';
import { verifyHref } from '../router.ts';
import { EvidenceAnswer } from '../schemas.ts';
import { ConsolePage, IDLE, LOADING, renderLoad, type Load } from './base.ts';
import { visibleText } from '../visible-text.ts';

const MAX_FILE_BYTES = 32 * 1024 * 1024;

interface Loaded {
  readonly bundle: unknown;
  readonly source: string;
  /** Changed here (the demonstration): its file must not pass for the server's. */
  readonly tampered?: boolean;
  /** Fetched for an entity: the stream the bundle must be of (a genuine bundle of another is `wrong_stream`). */
  readonly expectedStream?: string;
}

/** The stream a bundle says it is of, when that is an entity stream: what its file is named after. */
const bundleStream = (bundle: unknown): string | undefined => {
  const streamId = typeof bundle === 'object' && bundle !== null ? (bundle as { streamId?: unknown }).streamId : undefined;
  return typeof streamId === 'string' && parseStreamId(streamId) !== undefined && /^[A-Za-z0-9._:~-]{1,300}$/.test(streamId) ? streamId : undefined;
};

/** An entity's evidence bundle, fetched or loaded from a file, verified here with the domain's verifier. */
export class EvidenceVerify extends ConsolePage {
  static override properties = {
    ...ConsolePage.properties,
    kind: { attribute: false },
    entityId: { attribute: false },
    loaded: { state: true },
    pinnedKey: { state: true },
    policy: { state: true },
    refusal: { state: true },
  };
  declare kind: string;
  declare entityId: string | undefined;
  declare loaded: Load<Loaded>;
  declare pinnedKey: string;
  declare policy: string;
  /** Why the id typed into the form was not fetched. */
  declare refusal: string | undefined;
  /** What the page was last asked to show (a fetch, a file, a tampered copy, nothing): only it may set `loaded`. */
  private readonly latest = new LatestRequest();

  constructor() {
    super();
    this.kind = 'node';
    this.entityId = undefined;
    this.loaded = IDLE;
    this.pinnedKey = '';
    this.policy = '';
    this.refusal = undefined;
  }

  override disconnectedCallback(): void {
    this.latest.cancel();
    super.disconnectedCallback();
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (!changed.has('kind') && !changed.has('entityId')) return;
    this.refusal = undefined;
    if (this.entityId !== undefined) {
      void this.fetchBundle(this.kind, this.entityId);
      return;
    }
    // An address naming no entity (one the router refused, or none): the previous entity's verdict and its Download
    // button must not stay under it (review 130).
    this.latest.cancel();
    this.loaded = IDLE;
  }

  private async fetchBundle(kind: string, id: string): Promise<void> {
    const asked = this.latest.next();
    this.loaded = LOADING;
    try {
      const bundle = await this.api.json(`/v1/transparency/evidence/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`, EvidenceAnswer, asked.signal);
      // The stream asked for (streamIdOf's form): the server's bundle must be of it, as `credence verify <stream> --server` holds it.
      if (asked.current()) this.loaded = { state: 'ok', value: { bundle, source: `fetched from this server for ${kind}-${id}`, expectedStream: `${kind}-${id}` } };
    } catch (error) {
      if (asked.current()) this.loaded = { state: 'error', error };
    }
  }

  /** Retry, offered by a failed fetch worth another try: the entity's bundle again (a file is read again by choosing it). */
  private retry(): void {
    if (this.entityId !== undefined) void this.fetchBundle(this.kind, this.entityId);
  }

  private async loadFile(event: Event): Promise<void> {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (file === undefined) return;
    // From here on the file is what was asked for: a fetch still running, or a file still being read, is dropped.
    const asked = this.latest.next();
    this.loaded = LOADING;
    if (file.size > MAX_FILE_BYTES) {
      this.loaded = { state: 'error', error: new Error(`${file.name} is ${file.size} bytes; a bundle file is at most ${MAX_FILE_BYTES} bytes here`) };
      return;
    }
    // As `credence verify` reads it: UTF-8 or refused (file.text() would replace bad bytes), within the JSON limits,
    // each member name once per object, every number as JSON.stringify writes it (json-duplicate-names.ts).
    let text: string;
    try {
      const bytes = await file.arrayBuffer();
      if (!asked.current()) return;
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      if (asked.current()) this.loaded = { state: 'error', error: new Error(`${file.name}: invalid_utf8: the file is not valid UTF-8 text (RFC 8259 8.1)`) };
      return;
    }
    const read = readNamedJsonText(file.name, text, undefined, { canonicalNumbers: true });
    this.loaded = read.ok
      ? { state: 'ok', value: { bundle: read.value, source: `loaded from the file ${file.name}` } }
      : { state: 'error', error: new Error(read.message) };
  }

  private tamper(loaded: Loaded): void {
    // Asked for last: a file still being read must not replace it.
    this.latest.cancel();
    this.loaded = {
      state: 'ok',
      value: { ...loaded, bundle: tamperedCopy(loaded.bundle), source: `${loaded.source}, then tampered with here: the first event's actor changed`, tampered: true },
    };
  }

  private download(loaded: Loaded): void {
    // Named after what the bundle says it is of, never after the page's address (a file loaded here, another answer).
    const name = `evidence-${bundleStream(loaded.bundle) ?? 'bundle'}${loaded.tampered === true ? '-tampered' : ''}.json`;
    saveAs(JSON.stringify(loaded.bundle, null, 2), 'application/json', name);
  }

  private open(event: SubmitEvent): void {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const kind = (form.elements.namedItem('kind') as HTMLSelectElement).value;
    const id = (form.elements.namedItem('id') as HTMLInputElement).value.trim();
    if (id === '') return;
    // Sent as an address, it would be dropped by the router without a word (router.ts): said here, and nothing shown
    // that could read as its verdict.
    const refused = entityIdRefusal(id);
    this.refusal = refused === undefined ? undefined : `${refused}; nothing was fetched.`;
    if (refused !== undefined) {
      this.latest.cancel();
      this.loaded = IDLE;
      return;
    }
    if (kind === this.kind && id === this.entityId) void this.fetchBundle(kind, id);
    else location.hash = verifyHref(kind, id);
  }

  private renderReport(report: BundleReport | { keyError: string }) {
    if ('keyError' in report) return html`<p class="error" role="alert">${report.keyError}</p>`;
    const { result } = report;
    // Consistent under the key the bundle names is not verified: anyone can sign invented events under a key of their
    // own, and the log's key is obtained out of band (RFC 9162 4.1), never from what is being checked.
    const unpinned = result.ok && report.verdict === 'key_not_pinned';
    return html`<div class="verdict ${unpinned ? 'unpinned' : result.ok ? 'pass' : 'fail'}" role="status" data-testid="verdict">
        ${unpinned
          ? html`<strong>Not verified: the log's key is not pinned.</strong> The bundle's integrity was checked (${result.events} events of ${visibleText(result.streamId)},
              the whole stream as of tree size ${result.checkpoint.treeSize}${report.withheldNote !== undefined ? `; ${report.withheldNote}` : ''}), but only under the key the bundle names, which whoever made it chose.
              Pin the log key (the content of transparency.pub, from the log's operator) below to verify which log issued it.`
          : result.ok
            ? html`<strong>Verified.</strong> ${result.events} events of ${visibleText(result.streamId)} are in the log and are the whole stream as of tree size ${result.checkpoint.treeSize}${report.withheldNote !== undefined ? `; ${report.withheldNote}` : ''}.`
            : html`<strong>Verification failed</strong> at the check “<span data-testid="failed-check">${visibleText(report.failedCheck ?? result.reason)}</span>”: ${visibleText(result.reason)}.`}
      </div>
      <ol class="checks">
        ${report.checks.map((c) => html`<li class="check ${c.outcome.replace(' ', '-')}" data-check=${c.id}>
          <span class="outcome">${c.outcome}</span> ${c.label}${c.detail ? html`<div class="detail">${visibleText(c.detail)}</div>` : nothing}
        </li>`)}
      </ol>`;
  }

  /** The verdict and its checks, then the signatures the verdict lets the page show (none without a verdict: a key not read). */
  private renderVerified(loaded: Loaded, report: BundleReport | { keyError: string }) {
    return html`${this.renderReport(report)}
      <div class="actions">
        <button type="button" class="secondary" @click=${() => this.tamper(loaded)}>Tamper with it (demonstration)</button>
        <button type="button" class="secondary" @click=${() => this.download(loaded)}>Download this bundle</button>
      </div>
      ${'keyError' in report ? nothing : this.renderSignatures(loaded, report.verdict)}`;
  }

  /** Under the verdict, never beside it: a bundle that is not verified lists no signature as verified (signatureTable). */
  private renderSignatures(loaded: Loaded, verdict: BundleReport['verdict']) {
    const table = signatureTable(verdict, loaded.bundle, this.policy);
    if ('policyError' in table) return html`<p class="error" role="alert">${table.policyError}</p>`;
    if ('notShown' in table) return html`<p class="meta" data-testid="signatures-not-shown">${table.notShown}</p>`;
    if (table.rows.length === 0) return nothing;
    return html`<div class="scroll"><table>
      <caption>${table.caption}</caption>
      <thead><tr><th scope="col">Position</th><th scope="col">Event</th><th scope="col">Actor</th><th scope="col">Signature</th></tr></thead>
      <tbody>${table.rows.map((r: SignatureRow) => html`<tr><td class="num">${r.position}</td><td>${visibleText(r.type)}</td><td class="id">${visibleText(r.actor)}</td>
        <td><span class="sig sig-${r.status.replace(/\W+/g, '-')}" data-testid="signature">${r.status}</span>${r.detail ? html` <span class="meta" data-testid="signature-detail">${visibleText(r.detail)}</span>` : nothing}</td></tr>`)}</tbody>
    </table></div>`;
  }

  override render() {
    const role = this.session.role;
    return html`<h2 tabindex="-1">Verify an evidence bundle</h2>
      <p class="help">The bundle is checked in this browser with the same domain code as <code>credence verify FILE.json --key KEY</code>, against the log key you pin: signed checkpoint,
        Merkle inclusion of each event, the signed stream head and completeness. Nothing is taken on the server's word.</p>
      <form class="inline" @submit=${(e: SubmitEvent) => this.open(e)}>
        <label for="verify-kind">Kind</label>
        <select id="verify-kind" name="kind">${ENTITY_KINDS.map((k) => html`<option value=${k} ?selected=${k === this.kind}>${k}</option>`)}</select>
        <label for="verify-id">Id</label>
        <input id="verify-id" name="id" .value=${this.entityId ?? ''} placeholder="e.g. meter-3" autocomplete="off" maxlength=${ENTITY_ID_INPUT_CHARS}
          aria-invalid=${this.refusal !== undefined ? 'true' : 'false'} aria-describedby=${this.refusal !== undefined ? 'verify-id-refused' : nothing} />
        <button type="submit">Fetch and verify</button>
      </form>
      ${this.refusal !== undefined ? html`<p id="verify-id-refused" class="error" role="alert" data-testid="id-refused">${this.refusal}</p>` : nothing}
      <div class="inline">
        <label for="bundle-file">Or load a bundle file (credence export)</label>
        <input id="bundle-file" type="file" accept="application/json,.json" @change=${(e: Event) => this.loadFile(e)} />
      </div>
      <details>
        <summary>Pinned log key and signing policy</summary>
        <label for="pinned-key">Pinned log key (the content of transparency.pub)</label>
        <input id="pinned-key" class="wide" .value=${this.pinnedKey} @change=${(e: Event) => (this.pinnedKey = (e.target as HTMLInputElement).value)} autocomplete="off" spellcheck="false" />
        <label for="policy">Request-signing policy JSON (public keys only)</label>
        <textarea id="policy" rows="3" .value=${this.policy} @change=${(e: Event) => (this.policy = (e.target as HTMLTextAreaElement).value)} spellcheck="false"></textarea>
      </details>
      ${renderLoad(this.loaded, role, 'the evidence bundle', (loaded) => html`<section aria-labelledby="result-heading">
          <h3 id="result-heading">Result</h3>
          <p class="meta">Bundle ${visibleText(loaded.source)}.</p>
          ${this.renderVerified(loaded, verifyBundle(loaded.bundle, this.pinnedKey, loaded.expectedStream))}
        </section>`, () => this.retry())}
      ${this.loaded.state === 'idle' ? html`<p class="empty">Fetch an entity's bundle or load a file to verify it.</p>` : nothing}`;
  }
}
