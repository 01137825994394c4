/** A protobuf Timestamp of a date (now by default). */
export function timestamp(date = new Date()): { seconds: number; nanos: number } {
  const ms = date.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}
