#!/usr/bin/env node
// Bundles the host programs for installation: each is one JavaScript file
// with everything it imports (no node_modules at run time).
// usage: bundle-host.mjs OUT_DIR INSTALL_ROOT
//   OUT_DIR        where containerd-shim-mayu-v2.mjs, mayu.mjs and mayu-runtime.mjs are written
//   INSTALL_ROOT   where they will find hypervisor-configs/ and vsock.node
//                  once installed (baked in; scripts/install-containerd
//                  passes its own)
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const [out, installRoot] = process.argv.slice(2);
if (!out || !installRoot) {
  console.error('usage: bundle-host.mjs OUT_DIR INSTALL_ROOT');
  process.exit(2);
}
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const version = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version;

for (const [name, entry] of [
  ['containerd-shim-mayu-v2', 'packages/shim/dist/src/main.js'],
  ['mayu', 'packages/cli/dist/src/main.js'],
  ['mayu-runtime', 'packages/cli/dist/src/oci-runtime/main.js'],
]) {
  await build({
    entryPoints: [join(repo, entry)],
    outfile: join(resolve(out), `${name}.mjs`),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    legalComments: 'none',
    logLevel: 'warning',
    // CommonJS dependencies (grpc-js, pino…) call require(): give the ES module one.
    banner: { js: "import { createRequire as __mayuCreateRequire } from 'node:module'; const require = __mayuCreateRequire(import.meta.url);" },
    define: { __MAYU_INSTALL_ROOT__: JSON.stringify(installRoot), __MAYU_VERSION__: JSON.stringify(version) },
    // Optional pino transports are never used by the host programs.
    external: ['pino-pretty'],
  });
  process.stderr.write(`[bundle] ${name}.mjs\n`);
}
