import { writeFileSync } from 'node:fs';

/** An address range of a test network: a /24 subnet, optionally a part of it. */
export interface TestRange {
  subnet: string;
  rangeStart?: string;
  rangeEnd?: string;
}

/**
 * The CNI bridge plugin of every test network: no gateway and no
 * masquerade, so that nothing on it has a route out (traffic only between
 * namespaces the tests made), addresses from host-local IPAM in `ipamDir`.
 */
export function isolatedBridge(bridge: string, range: TestRange, ipamDir: string): Record<string, unknown> {
  return { type: 'bridge', bridge, isGateway: false, ipMasq: false, ipam: { type: 'host-local', ranges: [[range]], dataDir: ipamDir } };
}

/** Writes a CNI network configuration list (CNI 1.0.0) named `name` with `plugins`. */
export function writeConflist(path: string, name: string, plugins: Record<string, unknown>[]): void {
  writeFileSync(path, JSON.stringify({ cniVersion: '1.0.0', name, plugins }));
}
