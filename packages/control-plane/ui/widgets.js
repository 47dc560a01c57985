// Small presentational pieces shared by the screens: badges, times, ids, notices, the confirm
// dialog. No state of their own beyond what a dialog needs.
import { html, useEffect, useRef } from '/vendor/preact-htm.js';

/** A status badge; `tone` is ok, warn, bad, info or muted. */
export function Badge({ tone = 'muted', children, title }) {
  return html`<span class=${`badge badge-${tone}`} title=${title}>${children}</span>`;
}

/** The first 8 characters of a UUID, the rest on hover. */
export function ShortId({ id }) {
  if (!id) return html`<span class="muted">—</span>`;
  return html`<code class="id" title=${id}>${String(id).slice(0, 8)}</code>`;
}

/** "12 s ago", "3 min ago", from seconds since the epoch. */
export function relativeTime(seconds, now = Date.now() / 1000) {
  if (seconds === null || seconds === undefined) return '—';
  const d = Math.max(0, Math.round(now - seconds));
  if (d < 60) return `${d} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return `${Math.floor(d / 86400)} d ago`;
}

/** A time as relative text, the absolute date on hover. */
export function Time({ seconds }) {
  if (seconds === null || seconds === undefined) return html`<span class="muted">—</span>`;
  return html`<time datetime=${new Date(seconds * 1000).toISOString()} title=${new Date(seconds * 1000).toLocaleString()}>${relativeTime(seconds)}</time>`;
}

/** Tags as chips. */
export function Tags({ tags }) {
  if (!tags || tags.length === 0) return html`<span class="muted">—</span>`;
  return html`<span class="chips">${tags.map((t) => html`<span class="chip">${t}</span>`)}</span>`;
}

/** An error notice for a failed load (with the Admin API's message). */
export function ErrorNotice({ error, onRetry }) {
  if (!error) return null;
  const needsToken = error.status === 401 || error.status === 403;
  return html`<div class="notice notice-bad" role="alert">
    <strong>${error.status ? `Error ${error.status}` : 'Unreachable'}</strong> ${error.message}
    ${needsToken ? html` — <a href="#/settings">set an Admin API token</a>` : null}
    ${onRetry ? html` <button class="btn btn-small" onClick=${onRetry}>Retry</button>` : null}
  </div>`;
}

/** A modal confirmation: Enter confirms, Escape cancels. */
export function ConfirmDialog({ title, children, confirmLabel = 'Confirm', tone = 'danger', onConfirm, onCancel, busy }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    dialog?.querySelector('button[data-confirm]')?.focus();
  }, []);
  return html`<dialog ref=${ref} class="dialog" onCancel=${(e) => { e.preventDefault(); onCancel(); }}>
    <form method="dialog" onSubmit=${(e) => { e.preventDefault(); onConfirm(); }}>
      <h2>${title}</h2>
      <div class="dialog-body">${children}</div>
      <div class="actions">
        <button type="button" class="btn" onClick=${onCancel}>Cancel</button>
        <button type="submit" class=${`btn btn-${tone}`} data-confirm disabled=${busy}>${busy ? 'Working…' : confirmLabel}</button>
      </div>
    </form>
  </dialog>`;
}

/** A value shown read-only in a detail view. */
export function JsonValue({ value }) {
  if (value === null || value === undefined) return html`<span class="muted">null</span>`;
  if (typeof value === 'boolean') return html`<code>${String(value)}</code>`;
  if (Array.isArray(value)) {
    if (value.length === 0) return html`<code>[]</code>`;
    if (value.every((v) => typeof v !== 'object')) return html`<span class="chips">${value.map((v) => html`<span class="chip">${String(v)}</span>`)}</span>`;
  }
  if (typeof value === 'object') return html`<pre class="json">${JSON.stringify(value, null, 2)}</pre>`;
  return html`<span>${String(value)}</span>`;
}
