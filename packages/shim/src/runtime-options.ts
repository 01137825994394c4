import { anyWire, runtimeOptionsWire } from '@mayu/protocol/light';

/**
 * The runtime options containerd sends (`options` of the runtime table,
 * as runtimeoptions.v1.Options in an Any): its ConfigPath, if any.
 */
export function configPathFromOptions(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return undefined;
  let any: anyWire.Any;
  try {
    any = anyWire.Any.decode(bytes);
  } catch (err) {
    throw new Error(`runtime options from containerd: not a protobuf Any (${(err as Error).message})`);
  }
  // Options of another type (runc's, say) carry no ConfigPath for mayu.
  if (!any.typeUrl.endsWith('runtimeoptions.v1.Options')) return undefined;
  try {
    return runtimeOptionsWire.Options.decode(any.value).configPath || undefined;
  } catch (err) {
    throw new Error(`runtime options from containerd: ${any.typeUrl} does not decode (${(err as Error).message})`);
  }
}
