#!/usr/bin/env node
// Writes manifest.json for a built guest image directory: versions, and the
// size and sha256 of every artifact.
// usage: manifest.mjs DIR JSON-FACTS   (facts are merged into the manifest)
import { createHash } from 'node:crypto';
import { createReadStream, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, factsJson] = process.argv.slice(2);
const facts = JSON.parse(factsJson);

async function describe(file) {
  const path = join(dir, file);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return { file, bytes: statSync(path).size, sha256: hash.digest('hex') };
}

const artifacts = {};
for (const [name, file] of Object.entries(facts.artifacts)) artifacts[name] = await describe(file);
const manifest = { schemaVersion: 1, ...facts, artifacts, builtAt: new Date().toISOString() };
writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
