#!/usr/bin/env node
// Builds a small OCI image locally from Debian's busybox-static: no registry.
// usage: build-example-image.mjs OUT_DIR [--archive FILE.tar] [--docker-archive FILE.tar] [--whiteout] [--name REF] [--pause] [--net-tools]
//   OUT_DIR         an OCI image layout (oci-layout, index.json, blobs/sha256/...)
//   --archive F     also write it as an OCI archive (a tar of the layout)
//   --docker-archive F  and as an archive Docker 20.10's `docker load` takes:
//                   the layout with `docker save`'s manifest.json beside it
//   --whiteout      add a second layer that deletes /etc/motd (an OCI whiteout)
//   --name REF      the image's reference name (default mayu-example:latest);
//                   `ctr images import` names the image after it
//   --pause         a pod sandbox ("pause") image: it waits, and exits on TERM
//   --net-tools     add a layer with this host's iproute2 `ip` and iptables
//                   (nft backend, with its extensions), and the libraries they
//                   load: for tests of network tooling inside a pod
// The image runs `sh` by default, has /etc/passwd with root and nobody, and
// /etc/motd saying which image it is.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync, copyFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const args = process.argv.slice(2);
const out = resolve(args[0] ?? '');
if (!args[0]) {
  console.error('usage: build-example-image.mjs OUT_DIR [--archive FILE.tar] [--docker-archive FILE.tar] [--whiteout] [--name REF] [--pause] [--net-tools]');
  process.exit(2);
}
const archive = args.includes('--archive') ? resolve(args[args.indexOf('--archive') + 1]) : null;
const dockerArchive = args.includes('--docker-archive') ? resolve(args[args.indexOf('--docker-archive') + 1]) : null;
const whiteout = args.includes('--whiteout');
const name = args.includes('--name') ? args[args.indexOf('--name') + 1] : 'mayu-example:latest';
const pause = args.includes('--pause');
const netTools = args.includes('--net-tools');
const cmd = pause ? ['/bin/sh', '-c', "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"] : ['sh'];
const work = mkdtempSync(join(tmpdir(), 'mayu-image-'));

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
function blob(content) {
  const digest = sha256(content);
  writeFileSync(join(out, 'blobs/sha256', digest), content);
  return { digest: `sha256:${digest}`, size: content.length };
}
/** A gzip layer of a directory; returns its descriptor and the uncompressed digest (diff id). */
function layer(dir, name) {
  const tar = join(work, `${name}.tar`);
  execFileSync('tar', ['-c', '-f', tar, '--numeric-owner', '--owner=0', '--group=0', '--sort=name', '--mtime=@0', '-C', dir, '.']);
  const raw = readFileSync(tar);
  const gz = execFileSync('gzip', ['-n', '-c', tar], { maxBuffer: 64 << 20 });
  return { desc: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...blob(gz) }, diffId: `sha256:${sha256(raw)}` };
}

/** Copies `from` (a host file, symlinks resolved) to the same path under `root`. */
function copyHostFile(root, from, to = from) {
  const dest = join(root, to);
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(realpathSync(from), dest);
}

/** A layer with the host's `ip` and iptables (nft) and every library they and iptables' extensions load. */
function netToolsLayer() {
  const top = join(work, 'net-tools');
  const ip = execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim();
  const xtables = '/usr/sbin/xtables-nft-multi';
  const extensions = execFileSync('sh', ['-c', 'ls -d /usr/lib/*/xtables'], { encoding: 'utf8' }).trim();
  copyHostFile(top, ip, 'usr/sbin/ip');
  copyHostFile(top, xtables);
  for (const name of ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables']) symlinkSync('xtables-nft-multi', join(top, 'usr/sbin', name));
  const plugins = readdirSync(extensions).map((f) => join(extensions, f));
  for (const p of plugins) copyHostFile(top, p);
  const libs = new Set();
  for (const file of [ip, xtables, ...plugins]) {
    for (const line of execFileSync('ldd', [file], { encoding: 'utf8' }).split('\n')) {
      const path = /(\/\S+) \(0x/.exec(line)?.[1];
      if (path) libs.add(path);
    }
  }
  for (const lib of libs) copyHostFile(top, lib);
  return layer(top, 'net-tools');
}

try {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'blobs/sha256'), { recursive: true });
  const root = join(work, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'home']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) if (a !== 'busybox') symlinkSync('busybox', join(root, 'bin', a));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(root, 'etc/motd'), 'mayu example image (busybox)\n');
  const layers = [layer(root, 'base')];
  if (whiteout) {
    const top = join(work, 'top');
    mkdirSync(join(top, 'etc'), { recursive: true });
    writeFileSync(join(top, 'etc/.wh.motd'), '');
    writeFileSync(join(top, 'etc/layer2'), 'from the second layer\n');
    layers.push(layer(top, 'top'));
  }
  if (netTools) layers.push(netToolsLayer());
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'IMAGE=mayu-example'], Cmd: cmd, WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...blob(config) },
      layers: layers.map((l) => l.desc),
    }),
  );
  const m = blob(manifest);
  writeFileSync(join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(out, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, platform: { os: 'linux', architecture: 'amd64' }, annotations: { 'org.opencontainers.image.ref.name': name } }],
    }),
  );
  if (archive) execFileSync('tar', ['-c', '-f', archive, '-C', out, '.']);
  if (dockerArchive) {
    // What `docker save` writes (Docker 20.10 loads only this), in a copy of the layout.
    const copy = join(work, 'docker');
    cpSync(out, copy, { recursive: true });
    const entry = { Config: `blobs/sha256/${blob(config).digest.slice(7)}`, RepoTags: [name], Layers: layers.map((l) => `blobs/sha256/${l.desc.digest.slice(7)}`) };
    writeFileSync(join(copy, 'manifest.json'), JSON.stringify([entry]));
    execFileSync('tar', ['-c', '-f', dockerArchive, '-C', copy, '.']);
  }
  console.log(out);
} finally {
  rmSync(work, { recursive: true, force: true });
}
