import { isIP } from 'node:net';
import type { IpFamily } from '@mayu/protocol';

/**
 * rtnetlink request messages, built here byte by byte (see rtnetlink(7),
 * <linux/rtnetlink.h>), sent one at a time by the addon's `rtnetlink(msg)`,
 * which waits for the kernel's ack. Only what the agent needs to bring a
 * pod's network into the guest: links up with an MTU and a name, addresses,
 * routes, neighbours.
 */

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_REPLACE = 0x100;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

const RTM_NEWLINK = 16;
const RTM_NEWADDR = 20;
const RTM_NEWROUTE = 24;
const RTM_NEWNEIGH = 28;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PREFSRC = 7;
const NDA_DST = 1;
const NDA_LLADDR = 2;

const IFF_UP = 0x1;
const RT_TABLE_MAIN = 254;
const RTPROT_STATIC = 4;
const RTN_UNICAST = 1;

export const AF_INET = 2;
export const AF_INET6 = 10;
const AF_UNSPEC = 0;
export const familyOf = (f: IpFamily): number => (f === 4 ? AF_INET : AF_INET6);

let seq = 1;

/** nlmsghdr (16 bytes) + payload, host byte order (x86: little endian). */
function message(type: number, flags: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32LE(16 + payload.length, 0);
  header.writeUInt16LE(type, 4);
  header.writeUInt16LE(flags | NLM_F_REQUEST | NLM_F_ACK, 6);
  header.writeUInt32LE(seq++ >>> 0, 8);
  header.writeUInt32LE(0, 12);
  return Buffer.concat([header, payload]);
}

/** One attribute: rtattr (len u16, type u16), the data, padded to 4 bytes. */
function attr(type: number, data: Buffer): Buffer {
  const len = 4 + data.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  data.copy(out, 4);
  return out;
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
};

/** An IP address's bytes (4 or 16), network order. */
export function ipBytes(address: string): Buffer {
  const v = isIP(address);
  if (v === 4) return Buffer.from(address.split('.').map(Number));
  if (v !== 6) throw new RangeError(`not an IP address: ${address}`);
  /** 16-bit groups of one side of "::" (an embedded IPv4 tail counts as two). */
  const groups = (side: string): number[] =>
    side === ''
      ? []
      : side.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const b = g.split('.').map(Number);
          return [((b[0] ?? 0) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | (b[3] ?? 0)];
        });
  const [head = '', tail] = address.split('::');
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g & 0xffff, i * 2));
  return out;
}

/** A MAC address's 6 bytes. */
export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

/** RTM_NEWLINK on an existing link: set its name, MTU, and up/down. */
export function setLink(index: number, o: { up?: boolean; mtu?: number; name?: string; address?: string }): Buffer {
  const info = Buffer.alloc(16);
  info.writeUInt8(AF_UNSPEC, 0);
  info.writeInt32LE(index, 4);
  info.writeUInt32LE(o.up ? IFF_UP : 0, 8);
  info.writeUInt32LE(o.up === undefined ? 0 : IFF_UP, 12);
  const attrs = [
    ...(o.address !== undefined ? [attr(IFLA_ADDRESS, Buffer.from(o.address.split(':').map((h) => parseInt(h, 16))))] : []),
    ...(o.mtu !== undefined ? [attr(IFLA_MTU, u32(o.mtu))] : []),
    ...(o.name !== undefined ? [attr(IFLA_IFNAME, Buffer.from(`${o.name}\0`))] : []),
  ];
  return message(RTM_NEWLINK, 0, Buffer.concat([info, ...attrs]));
}

/** RTM_NEWADDR: an address on a link (replaced if it is there). */
export function addAddress(index: number, family: IpFamily, address: string, prefixLength: number): Buffer {
  const msg = Buffer.alloc(8);
  msg.writeUInt8(familyOf(family), 0);
  msg.writeUInt8(prefixLength, 1);
  msg.writeUInt8(0, 2);
  msg.writeUInt8(0, 3);
  msg.writeUInt32LE(index, 4);
  const ip = ipBytes(address);
  return message(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, Buffer.concat([msg, attr(IFA_LOCAL, ip), attr(IFA_ADDRESS, ip)]));
}

export interface RouteRequest {
  family: IpFamily;
  /** null for the default route. */
  destination: { address: string; prefixLength: number } | null;
  gateway: string | null;
  source: string | null;
  oifIndex: number;
  scope: number;
}

/** RTM_NEWROUTE in the main table (an existing identical route is an EEXIST). */
export function addRoute(r: RouteRequest): Buffer {
  const msg = Buffer.alloc(12);
  msg.writeUInt8(familyOf(r.family), 0);
  msg.writeUInt8(r.destination?.prefixLength ?? 0, 1);
  msg.writeUInt8(RT_TABLE_MAIN, 4);
  msg.writeUInt8(RTPROT_STATIC, 5);
  msg.writeUInt8(r.scope, 6);
  msg.writeUInt8(RTN_UNICAST, 7);
  const attrs = [
    ...(r.destination ? [attr(RTA_DST, ipBytes(r.destination.address))] : []),
    ...(r.gateway ? [attr(RTA_GATEWAY, ipBytes(r.gateway))] : []),
    ...(r.source ? [attr(RTA_PREFSRC, ipBytes(r.source))] : []),
    attr(RTA_OIF, u32(r.oifIndex)),
  ];
  return message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, Buffer.concat([msg, ...attrs]));
}

/** RTM_NEWNEIGH: a neighbour entry (replaced if it is there). */
export function addNeighbor(index: number, ipAddress: string, mac: string, state: number): Buffer {
  const msg = Buffer.alloc(12);
  msg.writeUInt8(isIP(ipAddress) === 4 ? AF_INET : AF_INET6, 0);
  msg.writeInt32LE(index, 4);
  msg.writeUInt16LE(state, 8);
  return message(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, Buffer.concat([msg, attr(NDA_DST, ipBytes(ipAddress)), attr(NDA_LLADDR, macBytes(mac))]));
}
