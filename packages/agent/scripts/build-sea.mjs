#!/usr/bin/env node
// Builds the guest agent as a Node single executable application:
// esbuild bundle (CommonJS, minified) -> SEA blob with a V8 code cache ->
// a stripped copy of this machine's node with the blob injected by postject.
// Usage: build-sea.mjs [--bundle-only]. Outputs in build/sea/:
//   agent.cjs    the bundle (its hash decides whether the image is current)
//   mayu-agent   the executable (not with --bundle-only)
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rootDir = resolve(pkgDir, '../..');
const outDir = join(pkgDir, 'build/sea');
const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
const mib = (path) => `${(statSync(path).size / 1048576).toFixed(1)} MiB`;
const step = (msg) => process.stderr.write(`[agent-sea] ${msg}\n`);

mkdirSync(outDir, { recursive: true });
const bundle = join(outDir, 'agent.cjs');
await build({
  entryPoints: [join(pkgDir, 'src/main.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { __MAYU_AGENT_VERSION__: JSON.stringify(version) },
  // Optional pino transports are never used in the guest.
  external: ['pino-pretty'],
});
step(`bundle ${mib(bundle)}`);
if (process.argv.includes('--bundle-only')) process.exit(0);

const blob = join(outDir, 'sea-prep.blob');
const seaConfig = join(outDir, 'sea-config.json');
writeFileSync(
  seaConfig,
  JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }),
);
execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: 'pipe' });

const exe = join(outDir, 'mayu-agent');
copyFileSync(process.execPath, exe);
execFileSync('strip', ['--strip-all', exe]);
// postject (LIEF) warns about every note section of a stripped binary; its
// output is shown only when it fails.
try {
  execFileSync(
    join(rootDir, 'node_modules/.bin/postject'),
    [exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'],
    { stdio: 'pipe' },
  );
} catch (err) {
  process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`);
  throw err;
}
step(`executable ${mib(exe)} (node ${process.version}, agent ${version})`);
