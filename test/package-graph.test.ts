import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/processes.js';

// The package graph points one way: protocol ← control-plane, protocol ← data-plane. The planes
// never import each other, nothing deep-imports another package's files, and every bare import is
// a declared dependency (so a clean `npm ci` gives each package what it uses).

const ALLOWED: Record<string, readonly string[]> = {
  protocol: ['protobufjs'],
  'control-plane': ['@sluice/protocol', 'pg', 'kysely', 'ws', 'fastify', 'pino', 'prom-client', '@electric-sql/pglite', 'yaml'],
  'data-plane': ['@sluice/protocol', 'ws', 'undici', 'pino', 'prom-client', 'ioredis', 'yaml'],
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

// Inside a package, folders point down too. A rule names the importers (`files`: a folder of the
// package's src/ such as 'router/', one file such as 'cli.ts', or '' for every file, tests beside
// the code included) and what they may not import: folders or files of the same src/
// (`mayNotImport`), Node built-ins or packages (`mayNotUse`; 'node:fs' also stands for 'fs' and
// 'node:fs/promises'). Add a row to add a rule.

/** One row of the folder rules: which files of a package may not import what. */
interface FolderRule {
  /** The package, as in `ALLOWED` (`packages/<package>/src`). */
  readonly package: string;
  /** The importers: 'router/' (a folder), 'cli.ts' (a file), '' (every file). */
  readonly files: string;
  /** Importers the rule leaves out, in the same forms as `files`. */
  readonly except?: readonly string[];
  /** Folders ('proxy/') and files ('cli.ts') of the same src/ they may not import. */
  readonly mayNotImport?: readonly string[];
  /** Node built-ins ('node:fs') and packages ('undici') they may not import. */
  readonly mayNotUse?: readonly string[];
  /** Why the rule exists: shown with each violation. */
  readonly why: string;
}

const PACKAGES = Object.keys(ALLOWED);

/** Node built-ins that do I/O: what a pure module never needs. */
const IO_BUILTINS = ['node:net', 'node:http', 'node:https', 'node:http2', 'node:tls', 'node:dgram', 'node:fs', 'node:child_process', 'node:cluster', 'node:worker_threads'];

const FOLDER_RULES: readonly FolderRule[] = [
  ...PACKAGES.map((pkg) => ({ package: pkg, files: '', mayNotImport: ['cli.ts'], why: 'cli.ts is the command: importing it runs it' })),
  {
    package: 'data-plane',
    files: 'router/',
    mayNotImport: ['proxy/', 'sync/', 'config/', 'status/', 'workers/'],
    mayNotUse: IO_BUILTINS,
    why: 'the router is pure: routes in, matches out, no I/O',
  },
  { package: 'data-plane', files: 'sync/', mayNotImport: ['proxy/'], why: 'the sync client hands configs to its owner; it never reaches into the proxy' },
  {
    package: 'data-plane',
    files: '',
    except: ['index.ts', 'cli.ts'],
    mayNotImport: ['data-plane.ts'],
    why: 'data-plane.ts is the top: it composes everything, and only the barrel and the command use it',
  },
  {
    package: 'data-plane',
    files: '',
    except: ['workers/', 'data-plane.ts', 'cli.ts', 'index.ts'],
    mayNotImport: ['workers/'],
    why: 'the proxy workers sit just below data-plane.ts: only it and the command start them',
  },
  { package: 'data-plane', files: '', mayNotImport: ['index.ts'], why: 'the barrel is for the outside; inside the package, import the module itself' },
  {
    package: 'protocol',
    files: 'entities/',
    mayNotUse: IO_BUILTINS,
    why: 'entity definitions, validation and references are pure: both planes and the declarative loader run them',
  },
  {
    package: 'control-plane',
    files: 'entities/',
    mayNotImport: ['admin/', 'store/', 'changes/', 'stream/'],
    why: 'a kind’s control-plane side is data (its table, its Admin API extras) that the layers above read',
  },
  { package: 'control-plane', files: 'store/', mayNotImport: ['admin/', 'changes/', 'stream/'], why: 'the store is the bottom layer: admin → store, never back' },
  { package: 'control-plane', files: 'admin/', mayNotImport: ['stream/', 'changes/'], why: 'the Admin API writes through the store; the stream and the config mirror follow the change log' },
  { package: 'control-plane', files: 'declarative/', mayNotImport: ['admin/', 'changes/', 'stream/'], why: 'declarative import and export write through the store; the Admin API serves them' },
  { package: 'control-plane', files: 'changes/', mayNotImport: ['admin/', 'stream/'], why: 'the config mirror reads the change log only: stream → changes, never back' },
];

/** Whether `path` (relative to src/, '/'-separated) is `entry` or lies in folder `entry` ('' matches everything). */
function isUnder(path: string, entry: string): boolean {
  return entry === '' || (entry.endsWith('/') ? path.startsWith(entry) : path === entry);
}

/** A built-in or package specifier as a rule names it: 'fs/promises' and 'node:fs' are both 'fs'. */
function moduleOf(spec: string): string {
  const bare = spec.startsWith('node:') ? spec.slice('node:'.length) : spec;
  return builtins.has(bare.split('/')[0]) ? bare.split('/')[0] : packageOf(bare);
}

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

  for (const rule of FOLDER_RULES) {
    const banned = [...(rule.mayNotImport ?? []), ...(rule.mayNotUse ?? [])].join(', ');
    it(`${rule.package}/src/${rule.files || '*'}: ${rule.why}`, () => {
      const src = join(ROOT, 'packages', rule.package, 'src');
      const importers = sourceFiles(src)
        .map((file) => ({ file, path: relative(src, file).split(sep).join('/') }))
        .filter(({ path }) => isUnder(path, rule.files) && !(rule.except ?? []).some((e) => isUnder(path, e)));
      // A rule whose importers are gone (a folder renamed) would pass forever: make it fail instead.
      if (rule.files !== '') expect(importers.length, `no file under ${rule.package}/src/${rule.files}`).toBeGreaterThan(0);
      const bannedModules = new Set((rule.mayNotUse ?? []).map(moduleOf));
      const problems: string[] = [];
      for (const { file, path } of importers) {
        for (const spec of importsOf(file)) {
          if (spec.startsWith('.')) {
            const target = relative(src, join(dirname(file), spec)).split(sep).join('/').replace(/\.js$/, '.ts');
            if (!target.startsWith('../') && (rule.mayNotImport ?? []).some((entry) => isUnder(target, entry))) problems.push(`${path}: '${spec}'`);
          } else if (bannedModules.has(moduleOf(spec))) {
            problems.push(`${path}: '${spec}'`);
          }
        }
      }
      expect(problems, `${rule.package}/src/${rule.files}${rule.except ? ` (but ${rule.except.join(', ')})` : ''} may not import ${banned}`).toEqual([]);
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
