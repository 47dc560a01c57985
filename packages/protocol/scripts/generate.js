// Generates static protobufjs code and its TypeScript declarations from proto/ into generated/.
// The output is build output (git-ignored); never edit it by hand.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const cliDir = dirname(require.resolve('protobufjs-cli/package.json'));
const protoDir = join(root, 'proto', 'sluice', 'v1');
const outDir = join(root, 'generated');
mkdirSync(outDir, { recursive: true });
const protos = readdirSync(protoDir).filter((f) => f.endsWith('.proto')).sort().map((f) => join(protoDir, f));
const js = join(outDir, 'sluice.js');
execFileSync(process.execPath, [join(cliDir, 'bin', 'pbjs'), '-t', 'static-module', '-w', 'es6', '--force-number', '--no-verify', '--no-delimited', '--no-convert', '-o', js, ...protos], { stdio: 'inherit' });
execFileSync(process.execPath, [join(cliDir, 'bin', 'pbts'), '-o', join(outDir, 'sluice.d.ts'), js], { stdio: 'inherit' });
