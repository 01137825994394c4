#!/usr/bin/env node
// The import-boundary check: a package never imports one above it in the
// layering of ARCHITECTURE.md, and no package's modules import each other in
// a cycle. Reads packages/*/src/**/*.ts (not generated code's internals).
// Exit status 1 with one line per violation; run by scripts/test.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Which of our packages each package may import (ARCHITECTURE.md: protocol
 * and vsock at the bottom; the agent beside the runtime, knowing nothing of
 * the host; ttrpc knowing no containerd semantics; the shim and the CLI on
 * top, neither importing the other).
 */
const ALLOWED = {
  protocol: [],
  vsock: [],
  ttrpc: ['protocol'],
  agent: ['protocol', 'vsock'],
  runtime: ['protocol', 'vsock'],
  shim: ['protocol', 'ttrpc', 'runtime', 'vsock'],
  cli: ['protocol', 'runtime', 'vsock'],
};

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The module specifiers a file imports or re-exports (static and dynamic). */
function importsOf(text) {
  const found = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)) found.push(m[1]);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) found.push(m[1]);
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]);
  return found;
}

const problems = [];
for (const pkg of Object.keys(ALLOWED)) {
  const src = join(repo, 'packages', pkg, 'src');
  const files = sources(src);
  const graph = new Map();
  for (const file of files) {
    const edges = [];
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const ours = /^@mayu\/([a-z-]+)/.exec(spec);
      if (ours) {
        const target = ours[1];
        if (target !== pkg && !ALLOWED[pkg].includes(target)) {
          problems.push(`${relative(repo, file)}: imports @mayu/${target}, which ${pkg} must not (allowed: ${ALLOWED[pkg].join(', ') || 'none of ours'})`);
        }
        if (target === pkg) problems.push(`${relative(repo, file)}: imports its own package by name (${spec}); use a relative path`);
      } else if (spec.startsWith('.')) {
        edges.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      }
    }
    graph.set(file, edges);
  }
  // Cycles among the package's modules: depth-first search with colours.
  const colour = new Map();
  const stack = [];
  const visit = (file) => {
    colour.set(file, 'grey');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (colour.get(next) === 'grey') {
        const cycle = stack
          .slice(stack.indexOf(next))
          .concat(next)
          .map((f) => relative(src, f));
        problems.push(`packages/${pkg}/src: import cycle ${cycle.join(' → ')}`);
      } else if (!colour.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    colour.set(file, 'black');
  };
  for (const file of files) if (!colour.has(file)) visit(file);
}

if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`check-imports: ${p}\n`);
  process.exit(1);
}
process.stdout.write(`check-imports: ${Object.keys(ALLOWED).length} packages, no boundary crossed, no cycle\n`);
