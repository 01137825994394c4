#!/usr/bin/env node
// Regenerates the TypeScript for every .proto under packages/protocol/proto
// with ts-proto (grpc-js services). Usage: gen-proto.mjs [--out DIR]
// (default packages/protocol/src/gen). The generated files are committed and
// never edited by hand; a unit test fails when they are stale.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const protoDir = join(root, 'packages/protocol/proto');
const outFlag = process.argv.indexOf('--out');
const outDir = outFlag >= 0 ? resolve(process.argv[outFlag + 1]) : join(root, 'packages/protocol/src/gen');

/** Options for ts-proto; see its README. */
export const TS_PROTO_OPTIONS = [
  'outputServices=grpc-js',
  'esModuleInterop=true',
  'env=node',
  'importSuffix=.js',
  'forceLong=number',
  'useOptionals=none',
  'oneof=unions',
  'useDate=false',
  'outputTypeRegistry=false',
  'outputJsonMethods=false',
];

function protoFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return protoFiles(path);
    return name.endsWith('.proto') ? [relative(protoDir, path)] : [];
  });
}

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
execFileSync(
  'protoc',
  [
    `--plugin=protoc-gen-ts_proto=${join(root, 'node_modules/.bin/protoc-gen-ts_proto')}`,
    `--ts_proto_out=${outDir}`,
    `--ts_proto_opt=${TS_PROTO_OPTIONS.join(',')}`,
    `--proto_path=${protoDir}`,
    '--proto_path=/usr/include',
    ...protoFiles(protoDir),
  ],
  { stdio: 'inherit', cwd: protoDir },
);
