// The list screen of any kind: a page of GET /{kind} (`size`, `offset`, `tags`), a search by name
// or id (GET /{kind}/{key}: the Admin API looks up by id or endpoint key), keyboard navigation
// (j/k, Enter, e, Delete), and deletion with confirmation.
import { html, useCallback, useEffect, useMemo, useRef, useState } from '/vendor/preact-htm.js';
import { ApiError, entitySchema, get, request, seg } from './api.js';
import { entityTitle, kindByName } from './entity-form.js';
import { fieldsOf, isHiddenField, labelOf } from './schema.js';
import { ConfirmDialog, ErrorNotice, JsonValue, ShortId, Tags, Time } from './widgets.js';

/** Page sizes offered. */
export const PAGE_SIZES = [20, 50, 100];

/**
 * Columns worth a glance for the kinds Sluice ships; any other kind gets the first few required
 * scalar fields of its schema.
 */
const LIST_COLUMNS = {
  services: ['protocol', 'host', 'port', 'path', 'enabled'],
  routes: ['service', 'protocols', 'hosts', 'paths', 'methods'],
  consumers: ['custom_id'],
  plugins: ['name', 'service', 'route', 'consumer', 'enabled'],
  keyauth_credentials: ['consumer'],
  basicauth_credentials: ['consumer'],
  acls: ['consumer'],
};

/** Most columns a generic list shows besides the title, id, tags and time. */
const MAX_GENERIC_COLUMNS = 4;

function columnsOf(kindInfo, schema) {
  const fields = fieldsOf(schema).filter(([, spec]) => !isHiddenField(spec));
  const known = LIST_COLUMNS[kindInfo.kind];
  if (known) return known.map((n) => fields.find(([f]) => f === n)).filter(Boolean);
  return fields
    .filter(([name, spec]) => name !== kindInfo.endpointKey && name !== 'tags' && ['string', 'integer', 'boolean', 'foreign'].includes(spec.type))
    .sort(([, a], [, b]) => Number(Boolean(b.required)) - Number(Boolean(a.required)))
    .slice(0, MAX_GENERIC_COLUMNS);
}

/** A reference shown as a link to the entity, by its name when the page has it. */
function ReferenceCell({ reference, value, names }) {
  if (!value) return html`<span class="muted">—</span>`;
  const refKind = kindByName(reference);
  const label = names?.[value.id];
  if (!refKind) return html`<${ShortId} id=${value.id} />`;
  return html`<a href=${`#/${refKind.adminName}/${value.id}`} onClick=${(e) => e.stopPropagation()}>${label ?? html`<${ShortId} id=${value.id} />`}</a>`;
}

function Cell({ spec, value, names }) {
  if (spec.type === 'foreign') return html`<${ReferenceCell} reference=${spec.reference} value=${value} names=${names?.[spec.reference]} />`;
  if (typeof value === 'boolean') return value ? html`<span class="ok">✓</span>` : html`<span class="muted">✗</span>`;
  if (value === null || value === undefined) return html`<span class="muted">—</span>`;
  return html`<${JsonValue} value=${value} />`;
}

/** Names of the entities the page's rows reference (one request per referenced kind). */
function useReferenceNames(rows, columns) {
  const [names, setNames] = useState({});
  useEffect(() => {
    const refs = [...new Set(columns.filter(([, s]) => s.type === 'foreign').map(([, s]) => s.reference))];
    let live = true;
    Promise.all(
      refs.map(async (ref) => {
        const refKind = kindByName(ref);
        if (!refKind || !rows.some((r) => columns.some(([n, s]) => s.reference === ref && r[n]))) return [ref, {}];
        const page = await get(`/${refKind.adminName}?size=1000`).catch(() => ({ data: [] }));
        return [ref, Object.fromEntries(page.data.map((e) => [e.id, entityTitle(refKind, e)]))];
      }),
    ).then((entries) => live && setNames(Object.fromEntries(entries)));
    return () => {
      live = false;
    };
  }, [rows, columns]);
  return names;
}

export function EntityList({ kindInfo, navigate }) {
  const [schema, setSchema] = useState(null);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [size, setSize] = useState(PAGE_SIZES[0]);
  const [offsets, setOffsets] = useState([null]);
  const [tags, setTags] = useState('');
  const [search, setSearch] = useState('');
  const [activeSearch, setActiveSearch] = useState('');
  const [selected, setSelected] = useState(0);
  const [deleting, setDeleting] = useState(null);
  const [busy, setBusy] = useState(false);
  const searchRef = useRef(null);
  const offset = offsets[offsets.length - 1];

  useEffect(() => {
    entitySchema(kindInfo.kind).then(setSchema, setError);
    setOffsets([null]);
    setSearch('');
    setActiveSearch('');
    setTags('');
    setSelected(0);
  }, [kindInfo.kind]);

  const load = useCallback(async () => {
    setError(null);
    try {
      if (activeSearch) {
        try {
          const one = await get(`/${kindInfo.adminName}/${seg(activeSearch)}`);
          setPage({ data: [one], next: null, searched: true });
        } catch (err) {
          if (err instanceof ApiError && (err.status === 404 || err.status === 400)) setPage({ data: [], next: null, searched: true });
          else throw err;
        }
        return;
      }
      const q = new URLSearchParams({ size: String(size) });
      if (offset) q.set('offset', offset);
      if (tags.trim()) q.set('tags', tags.trim());
      setPage(await get(`/${kindInfo.adminName}?${q}`));
    } catch (err) {
      setError(err);
      setPage({ data: [], next: null });
    }
  }, [kindInfo.adminName, size, offset, tags, activeSearch]);

  useEffect(() => {
    load();
  }, [load]);

  const rows = useMemo(() => page?.data ?? [], [page]);
  const columns = useMemo(() => (schema ? columnsOf(kindInfo, schema) : []), [schema, kindInfo.kind]);
  const names = useReferenceNames(rows, columns);

  useEffect(() => {
    const onKey = (e) => {
      if (e.target instanceof HTMLElement && (e.target.matches('input, textarea, select') || e.target.closest('dialog'))) {
        if (e.key === 'Escape' && e.target === searchRef.current) e.target.blur();
        return;
      }
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const row = rows[selected];
      if (e.key === '/') {
        e.preventDefault();
        searchRef.current?.focus();
      } else if (e.key === 'j' || e.key === 'ArrowDown') {
        e.preventDefault();
        setSelected((i) => Math.min(rows.length - 1, i + 1));
      } else if (e.key === 'k' || e.key === 'ArrowUp') {
        e.preventDefault();
        setSelected((i) => Math.max(0, i - 1));
      } else if (e.key === 'Enter' && row) {
        navigate(`#/${kindInfo.adminName}/${row.id}`);
      } else if (e.key === 'e' && row) {
        navigate(`#/${kindInfo.adminName}/${row.id}/edit`);
      } else if ((e.key === 'Delete' || e.key === 'Backspace') && row) {
        setDeleting(row);
      } else if (e.key === 'n') {
        navigate(`#/${kindInfo.adminName}/new`);
      } else if (e.key === ']' && page?.offset) {
        setOffsets((o) => [...o, page.offset]);
      } else if (e.key === '[' && offsets.length > 1) {
        setOffsets((o) => o.slice(0, -1));
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [rows, selected, page, offsets, kindInfo.adminName]);

  useEffect(() => setSelected((i) => Math.min(i, Math.max(0, rows.length - 1))), [rows.length]);

  const remove = async () => {
    setBusy(true);
    try {
      await request('DELETE', `/${kindInfo.adminName}/${seg(deleting.id)}`);
      setDeleting(null);
      await load();
    } catch (err) {
      setDeleting(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const title = labelOf(kindInfo.adminName.replace(/-/g, '_'));
  return html`<section class="screen" data-screen="list" data-kind=${kindInfo.kind}>
    <header class="screen-head">
      <h1>${title}</h1>
      <div class="toolbar">
        <form class="search" onSubmit=${(e) => { e.preventDefault(); setActiveSearch(search.trim()); setOffsets([null]); }}>
          <input ref=${searchRef} class="input" type="search" placeholder=${`${kindInfo.endpointKey ? labelOf(kindInfo.endpointKey) : 'Id'} or id…  /`} aria-label="Search by name or id" value=${search}
            onInput=${(e) => { setSearch(e.currentTarget.value); if (e.currentTarget.value === '') setActiveSearch(''); }} />
        </form>
        <form class="search" onSubmit=${(e) => { e.preventDefault(); setTags(e.currentTarget.elements.tags.value.trim()); setOffsets([null]); }}>
          <input class="input" name="tags" placeholder="tags: a,b (all) or a/b (any)" aria-label="Filter by tags" />
        </form>
        ${tags
          ? html`<span class="chip filter-chip" data-active-tags>tags ${tags} <button class="icon-btn" aria-label="Clear the tags filter" onClick=${(e) => {
              const input = e.currentTarget.closest('.toolbar').querySelector('input[name=tags]');
              if (input) input.value = '';
              setTags('');
              setOffsets([null]);
            }}>×</button></span>`
          : null}
        <a class="btn btn-primary" href=${`#/${kindInfo.adminName}/new`}>New ${kindInfo.singular.replace(/_/g, ' ')} <kbd>n</kbd></a>
      </div>
    </header>
    <${ErrorNotice} error=${error} onRetry=${load} />
    ${page === null || schema === null
      ? html`<div class="loading">Loading…</div>`
      : rows.length === 0
        ? html`<div class="empty">
            ${page.searched ? html`No ${kindInfo.singular.replace(/_/g, ' ')} named or with id <code>${activeSearch}</code>.` : tags ? 'Nothing carries these tags.' : html`No ${title.toLowerCase()} yet. <a href=${`#/${kindInfo.adminName}/new`}>Create the first one</a>.`}
          </div>`
        : html`<table class="table">
            <thead><tr>
              <th>${kindInfo.endpointKey ? labelOf(kindInfo.endpointKey) : 'Entity'}</th><th>Id</th>
              ${columns.map(([name]) => html`<th>${labelOf(name)}</th>`)}
              <th>Tags</th><th>Updated</th><th class="actions-col"></th>
            </tr></thead>
            <tbody>
              ${rows.map(
                (row, i) => html`<tr class=${i === selected ? 'selected' : ''} data-id=${row.id} onClick=${() => navigate(`#/${kindInfo.adminName}/${row.id}`)}>
                  <td class="title-cell"><a href=${`#/${kindInfo.adminName}/${row.id}`}>${entityTitle(kindInfo, row) === row.id ? html`<${ShortId} id=${row.id} />` : entityTitle(kindInfo, row)}</a></td>
                  <td><${ShortId} id=${row.id} /></td>
                  ${columns.map(([name, spec]) => html`<td><${Cell} spec=${spec} value=${row[name]} names=${names} /></td>`)}
                  <td><${Tags} tags=${row.tags} /></td>
                  <td><${Time} seconds=${row.updated_at ?? row.created_at} /></td>
                  <td class="actions-col" onClick=${(e) => e.stopPropagation()}>
                    <a class="btn btn-small" href=${`#/${kindInfo.adminName}/${row.id}/edit`}>Edit</a>
                    <button class="btn btn-small btn-danger-ghost" aria-label=${`Delete ${entityTitle(kindInfo, row)}`} onClick=${() => setDeleting(row)}>Delete</button>
                  </td>
                </tr>`,
              )}
            </tbody>
          </table>`}
    <footer class="pager">
      <span class="muted">${page && !page.searched ? `Page ${offsets.length}` : ''}</span>
      <select class="input input-small" aria-label="Page size" value=${size} onChange=${(e) => { setSize(Number(e.currentTarget.value)); setOffsets([null]); }}>
        ${PAGE_SIZES.map((s) => html`<option value=${s}>${s} per page</option>`)}
      </select>
      <button class="btn btn-small" disabled=${offsets.length <= 1} onClick=${() => setOffsets((o) => o.slice(0, -1))}>← Previous <kbd>[</kbd></button>
      <button class="btn btn-small" disabled=${!page?.offset} onClick=${() => setOffsets((o) => [...o, page.offset])}>Next → <kbd>]</kbd></button>
    </footer>
    ${deleting
      ? html`<${ConfirmDialog} title=${`Delete ${kindInfo.singular.replace(/_/g, ' ')} ${entityTitle(kindInfo, deleting)}?`} confirmLabel="Delete" busy=${busy} onConfirm=${remove} onCancel=${() => setDeleting(null)}>
          <p>This removes it from every data plane. <code>${deleting.id}</code></p>
        </${ConfirmDialog}>`
      : null}
  </section>`;
}
