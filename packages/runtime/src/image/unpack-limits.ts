/** Bounds on the work one image may cause when it is unpacked. */
export interface UnpackLimits {
  /** Tar entries in one layer. Default 1,000,000. */
  maxEntriesPerLayer: number;
  /** Decompressed tar bytes of all layers together. Default 64 GiB. */
  maxUnpackedBytes: number;
}

export const DEFAULT_UNPACK_LIMITS: Readonly<UnpackLimits> = Object.freeze({
  maxEntriesPerLayer: 1_000_000,
  maxUnpackedBytes: 64 * 1024 ** 3,
});
