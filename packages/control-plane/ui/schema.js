// Kong's schema JSON (GET /schemas/{entity}) as the UI uses it: which fields a form shows and how a
// field's form text converts to and from its JSON value. Nothing here knows a kind by name: a new
// kind gets its screens from its schema.

/** The schema's fields as `[name, spec]` pairs in schema order. */
export function fieldsOf(schema) {
  return (schema?.fields ?? []).map((f) => {
    const name = Object.keys(f)[0];
    return [name, f[name]];
  });
}

/** True for fields a form does not offer: filled by the server, or that must stay null. */
export function isHiddenField(spec) {
  return spec.auto === true || (Object.hasOwn(spec, 'eq') && spec.eq === null);
}

/** How a field is edited. */
export function editorOf(spec) {
  switch (spec.type) {
    case 'string':
      return spec.one_of ? 'select' : 'text';
    case 'integer':
    case 'number':
      return spec.one_of ? 'select' : 'number';
    case 'boolean':
      return spec.required ? 'checkbox' : 'tristate';
    case 'array':
    case 'set':
      if (spec.elements?.one_of) return 'multi';
      return spec.elements?.type === 'string' || spec.elements?.type === 'integer' || spec.elements?.type === 'number' ? 'lines' : 'json';
    case 'map':
      return spec.values?.type === 'array' || spec.values?.type === 'set' ? 'header-map' : 'json';
    case 'foreign':
      return 'foreign';
    case 'record':
      return spec.abstract || !spec.fields ? 'json' : 'record';
    default:
      return 'json';
  }
}

const isNumeric = (t) => t === 'integer' || t === 'number';

/** A field's JSON value as form state (strings, booleans, arrays of selected options). */
export function toFormValue(spec, value) {
  const editor = editorOf(spec);
  if (value === null || value === undefined) {
    if (editor === 'checkbox') return false;
    if (editor === 'multi') return [];
    if (editor === 'record') return {};
    return '';
  }
  switch (editor) {
    case 'text':
    case 'select':
    case 'number':
      return String(value);
    case 'checkbox':
      return value === true;
    case 'tristate':
      return value === true ? 'true' : value === false ? 'false' : '';
    case 'multi':
      return Array.isArray(value) ? value.map(String) : [];
    case 'lines':
      return Array.isArray(value) ? value.join('\n') : String(value);
    case 'header-map':
      return Object.entries(value)
        .map(([k, vs]) => `${k}: ${(Array.isArray(vs) ? vs : [vs]).join(', ')}`)
        .join('\n');
    case 'foreign':
      return value?.id ?? '';
    case 'record': {
      const out = {};
      // A field the value lacks starts at its default (a new plugin's config).
      for (const [name, sub] of fieldsOf(spec)) out[name] = toFormValue(sub, Object.hasOwn(value, name) ? value[name] : sub.default);
      return out;
    }
    default:
      return JSON.stringify(value, null, 2);
  }
}

/** Thrown by {@link fromFormValue} when form text cannot be the field's JSON (bad JSON, not a number). */
export class FormValueError extends Error {}

/** Form state back to the field's JSON value; `null` for an empty input. */
export function fromFormValue(spec, form) {
  const editor = editorOf(spec);
  switch (editor) {
    case 'text':
      return form === '' ? null : form;
    case 'select':
      if (form === '') return null;
      return isNumeric(spec.type) ? Number(form) : form;
    case 'number': {
      if (form.trim() === '') return null;
      // Not a number: sent as typed, so the Admin API answers with Kong's message for the field.
      const n = Number(form);
      return Number.isFinite(n) ? n : form;
    }
    case 'checkbox':
      return form === true;
    case 'tristate':
      return form === 'true' ? true : form === 'false' ? false : null;
    case 'multi':
      return form.length === 0 ? null : form.map((v) => (isNumeric(spec.elements.type) ? Number(v) : v));
    case 'lines': {
      const items = form.split('\n').map((l) => l.trim()).filter((l) => l !== '');
      if (items.length === 0) return null;
      if (isNumeric(spec.elements.type)) {
        return items.map((v) => (Number.isFinite(Number(v)) ? Number(v) : v));
      }
      return items;
    }
    case 'header-map': {
      const lines = form.split('\n').map((l) => l.trim()).filter((l) => l !== '');
      if (lines.length === 0) return null;
      const out = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        if (i <= 0) throw new FormValueError(`'${line}': expected name: value[, value]`);
        const name = line.slice(0, i).trim();
        out[name] = [...(out[name] ?? []), ...line.slice(i + 1).split(',').map((v) => v.trim()).filter((v) => v !== '')];
      }
      return out;
    }
    case 'foreign':
      return form === '' ? null : { id: form };
    case 'record': {
      const out = {};
      for (const [name, sub] of fieldsOf(spec)) {
        if (isHiddenField(sub)) continue;
        out[name] = fromFormValue(sub, form[name] ?? toFormValue(sub, null));
      }
      return out;
    }
    default: {
      if (typeof form !== 'string' || form.trim() === '') return null;
      try {
        return JSON.parse(form);
      } catch (err) {
        throw new FormValueError(`not valid JSON: ${err.message}`);
      }
    }
  }
}

/** Words written in capitals (or otherwise) in labels. */
const LABEL_WORDS = { url: 'URL', id: 'ID', acls: 'ACLs', acl: 'ACL', tls: 'TLS', ca: 'CA', sni: 'SNI', snis: 'SNIs', http: 'HTTP', https: 'HTTPS', ttl: 'TTL', ip: 'IP' };

/** A field name as a label: `connect_timeout` → `Connect timeout`, `ca_certificates` → `CA certificates`. */
export function labelOf(name) {
  const words = name.split('_').map((w) => LABEL_WORDS[w] ?? w);
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Deep equality of JSON values (for "what did the user change"). */
export function sameJson(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** A short hint of a field's rules, from the schema: default, range, choices. */
export function hintOf(spec) {
  const parts = [];
  if (spec.between) parts.push(`${spec.between[0]}–${spec.between[1]}`);
  if (spec.len_min) parts.push(`at least ${spec.len_min}`);
  if (spec.default !== undefined && spec.default !== null && editorOf(spec) !== 'checkbox') {
    parts.push(`default ${Array.isArray(spec.default) ? spec.default.join(', ') : typeof spec.default === 'object' ? JSON.stringify(spec.default) : spec.default}`);
  }
  const editor = editorOf(spec);
  if (editor === 'lines') parts.push('one per line');
  if (editor === 'header-map') parts.push('one header per line: name: value, value');
  return parts.join(' · ');
}

/**
 * Fields an entity check asks for at least one of (`at_least_one_of`, `conditional_at_least_one_of`):
 * a route's match fields, a consumer's username and custom_id. Forms show them first.
 */
export function checkedFieldsOf(schema) {
  const out = new Set();
  for (const check of schema?.entity_checks ?? []) {
    for (const list of [check.at_least_one_of, check.conditional_at_least_one_of?.then_at_least_one_of, check.conditional_at_least_one_of?.else_then_at_least_one_of]) {
      if (Array.isArray(list)) for (const f of list) out.add(f);
    }
  }
  return out;
}
