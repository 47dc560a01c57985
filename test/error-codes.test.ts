import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/processes.js';

// docs/errors.md lists every stable error code the packages raise, and nothing else.

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('error codes', () => {
  it('are documented in docs/errors.md exactly', () => {
    const inCode = new Set<string>();
    for (const pkg of ['protocol', 'control-plane', 'data-plane']) {
      for (const file of files(join(ROOT, 'packages', pkg, 'src'))) {
        for (const m of readFileSync(file, 'utf8').matchAll(/'(SLUICE_(?:PROTO|CP|DP)_[A-Z0-9_]+)'/g)) inCode.add(m[1]);
      }
    }
    const documented = new Set([...readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8').matchAll(/`(SLUICE_(?:PROTO|CP|DP)_[A-Z0-9_]+)`/g)].map((m) => m[1]));
    expect([...inCode].filter((c) => !documented.has(c)).sort()).toEqual([]);
    expect([...documented].filter((c) => !inCode.has(c)).sort()).toEqual([]);
  });
});
