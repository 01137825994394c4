#!/usr/bin/env node
// Regenerates the TypeScript for every .proto under packages/protocol/proto
// with ts-proto. Usage: gen-proto.mjs [--out DIR] (default
// packages/protocol/src/gen). The generated files are committed and never
// edited by hand; a unit test fails when they are stale.
//
// Three groups, each with the options it needs:
//   mayu/     the agent API: grpc-js services, int64 as number
//   cri/      the CRI subset for the tests: grpc-js services, int64 as bigint
//             (timestamps are nanoseconds since the epoch)
//   the rest  ttrpc, google.rpc and containerd: generic service definitions
//             (mayu's ttrpc package serves and calls them), int64 as number
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const protoDir = join(root, 'packages/protocol/proto');
const outFlag = process.argv.indexOf('--out');
const outDir = outFlag >= 0 ? resolve(process.argv[outFlag + 1]) : join(root, 'packages/protocol/src/gen');

/** Options for ts-proto shared by every group; see its README. */
const COMMON_OPTIONS = ['esModuleInterop=true', 'env=node', 'importSuffix=.js', 'useOptionals=none', 'oneof=unions', 'useDate=false', 'outputTypeRegistry=false', 'outputJsonMethods=false'];

function protoFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return protoFiles(path);
    return name.endsWith('.proto') ? [relative(protoDir, path)] : [];
  });
}

const GROUPS = [
  { files: (f) => f.startsWith('mayu/'), options: ['outputServices=grpc-js', 'forceLong=number'] },
  { files: (f) => f.startsWith('cri/'), options: ['outputServices=grpc-js', 'forceLong=bigint'] },
  { files: (f) => !f.startsWith('mayu/') && !f.startsWith('cri/'), options: ['outputServices=generic-definitions', 'forceLong=number'] },
];

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const all = protoFiles(protoDir).sort();
for (const group of GROUPS) {
  execFileSync(
    'protoc',
    [
      `--plugin=protoc-gen-ts_proto=${join(root, 'node_modules/.bin/protoc-gen-ts_proto')}`,
      `--ts_proto_out=${outDir}`,
      `--ts_proto_opt=${[...group.options, ...COMMON_OPTIONS].join(',')}`,
      `--proto_path=${protoDir}`,
      '--proto_path=/usr/include',
      ...all.filter(group.files),
    ],
    { stdio: 'inherit', cwd: protoDir },
  );
}
