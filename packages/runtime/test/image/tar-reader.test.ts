import assert from 'node:assert/strict';
import { readTar, type TarEntry } from '../../src/image/tar-reader.js';
import { chunked, header, member, metaMember, paxRecords, tarball, type FixtureEntry } from './tar-fixture.js';

type Read = Omit<TarEntry, 'body'> & { content: string };

async function readAll(buf: Buffer, chunk = 7): Promise<Read[]> {
  const out: Read[] = [];
  for await (const e of readTar(chunked(buf, chunk))) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c);
    const { body: _body, ...rest } = e;
    out.push({ ...rest, content: Buffer.concat(parts).toString() });
  }
  return out;
}

const names = async (entries: FixtureEntry[]): Promise<string[]> => (await readAll(tarball(entries))).map((e) => e.name);

describe('image tar reader', () => {
  it('reads ustar files, directories, links and devices with their metadata', async () => {
    const got = await readAll(
      tarball([
        { name: 'dir/', type: 'dir', mode: 0o750, uid: 12, gid: 34, mtime: 99 },
        { name: 'dir/file', body: 'hello\n', mode: 0o4755 },
        { name: 'link', type: 'symlink', linkname: '/dir/file' },
        { name: 'hard', type: 'hardlink', linkname: 'dir/file' },
        { name: 'null', type: 'char' },
        { name: 'fifo', type: 'fifo' },
      ]),
    );
    assert.deepEqual(
      got.map((e) => [e.name, e.type, e.linkname, e.size, e.content]),
      [
        ['dir/', 'directory', '', 0, ''],
        ['dir/file', 'file', '', 6, 'hello\n'],
        ['link', 'symlink', '/dir/file', 0, ''],
        ['hard', 'hardlink', 'dir/file', 0, ''],
        ['null', 'char-device', '', 0, ''],
        ['fifo', 'fifo', '', 0, ''],
      ],
    );
    assert.deepEqual([got[0]?.mode, got[0]?.uid, got[0]?.gid, got[0]?.mtime, got[1]?.mode], [0o750, 12, 34, 99, 0o4755]);
  });

  it('takes long names from PAX (x and g) and GNU L/K headers, PAX winning', async () => {
    const long = `${'d'.repeat(120)}/${'e'.repeat(120)}/file`;
    const got = await readAll(
      tarball([
        { name: 'cut', body: 'x', pax: { path: long, uid: '70000', gid: '70001', mtime: '1234.5', 'SCHILY.xattr.security.capability': 'ignored' } },
        { name: long, gnuLong: true, type: 'symlink', linkname: `/${'t'.repeat(200)}` },
        { name: 'both', gnuLong: true, pax: { path: 'pax-wins' } },
        { name: 'g1', globalPax: { mtime: '42' } },
        { name: 'g2', pax: { mtime: '43' } },
        { name: 'g3' },
      ]),
    );
    assert.deepEqual(got[0] && [got[0].name, got[0].uid, got[0].gid, got[0].mtime, got[0].content], [long, 70000, 70001, 1234.5, 'x']);
    assert.deepEqual(got[1] && [got[1].name, got[1].linkname], [long, `/${'t'.repeat(200)}`]);
    assert.equal(got[2]?.name, 'pax-wins');
    assert.deepEqual(
      got.slice(3).map((e) => e.mtime),
      [42, 43, 42],
    );
  });

  it('reads base-256 numbers (GNU) for size, uid and gid', async () => {
    const [e] = await readAll(tarball([{ name: 'big-ids', body: 'abc', uid: 3_000_000_000, gid: 2 ** 33, base256: true }]));
    assert.deepEqual(e && [e.uid, e.gid, e.size, e.content], [3_000_000_000, 2 ** 33, 3, 'abc']);
  });

  it('streams a file in chunks instead of holding it whole', async () => {
    const body = Buffer.alloc(3 << 20, 'a');
    const sizes: number[] = [];
    for await (const e of readTar(chunked(tarball([{ name: 'big', body }]), 64 << 10))) for await (const c of e.body) sizes.push(c.length);
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      body.length,
    );
    assert.ok(Math.max(...sizes) <= 64 << 10, 'no chunk bigger than what the source gave');
  });

  it('skips a body the consumer does not read', async () => {
    const got: string[] = [];
    for await (const e of readTar(
      chunked(
        tarball([
          { name: 'a', body: 'x'.repeat(1000) },
          { name: 'b', body: 'y' },
        ]),
      ),
    ))
      got.push(e.name);
    assert.deepEqual(got, ['a', 'b']);
  });

  it('names the entry of an archive truncated in its content', async () => {
    const buf = tarball([
      { name: 'ok', body: 'fine' },
      { name: 'cut-here', body: 'z'.repeat(2000) },
    ]);
    await assert.rejects(readAll(buf.subarray(0, 512 * 2 + 512 + 700)), { code: 'ERR_INVALID_ARGUMENT', message: /truncated in entry "cut-here" \(2000 bytes, 700 present\)/ });
    await assert.rejects(readAll(buf.subarray(0, 512 * 2 + 100)), { message: /truncated in the header after entry "ok"/ });
  });

  it('refuses a PAX header or GNU long name over 1 MiB, and a bad checksum', async () => {
    const huge = paxRecords({ path: 'p'.repeat((1 << 20) + 10) });
    await assert.rejects(readAll(Buffer.concat([metaMember('x', huge), member({ name: 'f' }), Buffer.alloc(1024)]), 1 << 16), {
      message: /extended header \(type x\) after the start of the archive is \d+ bytes, more than 1048576/,
    });
    await assert.rejects(readAll(Buffer.concat([metaMember('L', Buffer.alloc((1 << 20) + 1, 'n')), Buffer.alloc(1024)]), 1 << 16), { message: /type L.*more than 1048576/ });
    const bad = header({ name: 'f', flag: '0', size: 0 });
    bad[0] = 0x67;
    await assert.rejects(readAll(Buffer.concat([bad, Buffer.alloc(1024)])), { message: /bad header checksum at byte 0/ });
    await assert.rejects(readAll(Buffer.from('#!/usr/bin/env node\n'.repeat(40))), { message: /not a valid tar archive/ });
  });

  it('refuses sparse files and unknown types, naming the entry', async () => {
    await assert.rejects(names([{ name: 'holes', flag: 'S' }]), { message: /tar entry "holes" is a sparse file/ });
    await assert.rejects(names([{ name: 'odd', flag: 'Z' }]), { message: /tar entry "odd" is of type "Z"/ });
  });

  it('ends at the end-of-archive blocks, or cleanly at the end of the stream', async () => {
    assert.deepEqual(await names([{ name: 'a' }]), ['a']);
    assert.deepEqual(
      (await readAll(member({ name: 'no-end-blocks' }))).map((e) => e.name),
      ['no-end-blocks'],
    );
    assert.deepEqual(await readAll(Buffer.alloc(0)), []);
  });
});
