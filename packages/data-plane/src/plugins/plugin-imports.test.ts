import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The plugin seam points one way: the proxy uses plugins/, never the reverse, and a plugin's folder
// (plugins/<name>/) sees only the plugin API (context, handler, phases) and @sluice/protocol, so
// its handler can be tested against a fake context and cannot reach the exchange.

const here = dirname(fileURLToPath(import.meta.url));
const src = resolve(here, '..');
const PLUGIN_API = new Set(['plugin-context.ts', 'plugin-handler.ts', 'phases.ts', 'plugin-factory.ts', 'consumer-headers.ts', 'query-args.ts'].map((f) => join(here, f)));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : name.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

describe('plugins/ imports', () => {
  it('nothing in plugins/ imports the proxy (or any folder but errors.ts above it)', () => {
    const problems: string[] = [];
    for (const file of sourceFiles(here)) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (!target.startsWith(here + '/') && target !== join(src, 'errors.ts')) problems.push(`${relative(src, file)}: '${spec}'`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('a plugin folder imports only the plugin API, its own files and @sluice/protocol', () => {
    const problems: string[] = [];
    for (const name of readdirSync(here)) {
      const folder = join(here, name);
      if (!statSync(folder).isDirectory() || name === 'testing') continue;
      for (const file of sourceFiles(folder)) {
        const isTest = file.endsWith('.test.ts');
        for (const spec of importsOf(file)) {
          if (!spec.startsWith('.')) {
            if (spec !== '@sluice/protocol' && !spec.startsWith('node:') && !(isTest && spec === 'vitest')) problems.push(`${relative(src, file)}: '${spec}'`);
            continue;
          }
          const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
          const isAllowed = target.startsWith(folder + '/') || PLUGIN_API.has(target) || (isTest && (target.startsWith(join(here, 'testing') + '/') || target === join(here, 'plugin-chain.ts')));
          if (!isAllowed) problems.push(`${relative(src, file)}: '${spec}'`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
