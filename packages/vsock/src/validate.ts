/** Checks that `value` is a u32 (a vsock CID or port). */
export function checkU32(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${name} must be an integer from 0 to 4294967295, got ${String(value)}`);
  }
  return value;
}
