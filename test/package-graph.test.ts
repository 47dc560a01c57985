import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/processes.js';

// The package graph points one way: protocol ← control-plane, protocol ← data-plane. The planes
// never import each other, nothing deep-imports another package's files, and every bare import is
// a declared dependency (so a clean `npm ci` gives each package what it uses).

const ALLOWED: Record<string, readonly string[]> = {
  protocol: ['protobufjs'],
  'control-plane': ['@sluice/protocol', 'pg', 'kysely', 'ws', 'fastify', 'pino', 'prom-client', '@electric-sql/pglite'],
  'data-plane': ['@sluice/protocol', 'ws', 'undici', 'pino', 'prom-client'],
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
    specs.push(m[1] ?? m[2] ?? m[3]);
  }
  return specs;
}

/** The package a bare specifier names: `@scope/name` or `name`, without a subpath. */
function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const builtins = new Set(builtinModules);

describe('package graph', () => {
  for (const [pkg, allowed] of Object.entries(ALLOWED)) {
    it(`${pkg} imports only its declared, allowed dependencies`, () => {
      const dir = join(ROOT, 'packages', pkg);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
      const declared = new Set(Object.keys(manifest.dependencies ?? {}));
      const problems: string[] = [];
      for (const file of sourceFiles(join(dir, 'src'))) {
        const isTest = file.endsWith('.test.ts');
        for (const spec of importsOf(file)) {
          const where = `${relative(ROOT, file)}: '${spec}'`;
          if (spec.startsWith('.')) {
            const target = join(file, '..', spec);
            if (!target.startsWith(dir + '/')) problems.push(`${where} reaches outside the package`);
            continue;
          }
          if (spec.startsWith('node:') || builtins.has(spec)) continue;
          const name = packageOf(spec);
          if (name.startsWith('@sluice/') && spec !== name) problems.push(`${where} deep-imports another package (use its public export)`);
          if (isTest && (name === 'vitest' || name.startsWith('@sluice/'))) continue;
          if (!allowed.includes(name)) problems.push(`${where} is not an allowed dependency of ${pkg}`);
          else if (!declared.has(name)) problems.push(`${where} is not declared in packages/${pkg}/package.json`);
        }
      }
      expect(problems).toEqual([]);
    });
  }

  it('keeps end-to-end tests on public exports', () => {
    const problems: string[] = [];
    for (const file of sourceFiles(join(ROOT, 'test'))) {
      for (const spec of importsOf(file)) if (/packages\/[^/]+\/src\//.test(spec)) problems.push(`${relative(ROOT, file)}: '${spec}'`);
    }
    expect(problems).toEqual([]);
  });
});
