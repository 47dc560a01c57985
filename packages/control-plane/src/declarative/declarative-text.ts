/**
 * Declarative config files as text: JSON or YAML (Kong's `kong.yml`), both ways. YAML is read with
 * the `yaml` package's alias bound (100 aliases), so a small file cannot expand into a huge
 * document; JSON is YAML's subset but parsed with `JSON.parse`, which is faster on large exports.
 */
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

/** The two text formats. */
export const DECLARATIVE_TEXT_FORMATS = ['json', 'yaml'] as const;
export type DeclarativeTextFormat = (typeof DECLARATIVE_TEXT_FORMATS)[number];

/** Media types a YAML body or answer is sent with (the first is the one Sluice answers with). */
export const YAML_MEDIA_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'] as const;

/** Parses a file's text: JSON when it starts with `{`, else YAML. Throws the parser's error. */
export function parseDeclarativeText(text: string): unknown {
  if (/^\s*\{/.test(text)) return JSON.parse(text);
  return parseYaml(text, { prettyErrors: false });
}

/** Writes a document as JSON (two-space indented) or YAML, with a final newline. */
export function formatDeclarativeText(document: unknown, format: DeclarativeTextFormat): string {
  if (format === 'yaml') return stringifyYaml(document, { lineWidth: 0 });
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** The format a file name implies: `.yml`/`.yaml` → YAML, anything else JSON. */
export function formatOfFileName(name: string): DeclarativeTextFormat {
  return /\.ya?ml$/i.test(name) ? 'yaml' : 'json';
}
