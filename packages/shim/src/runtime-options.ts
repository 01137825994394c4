import { anyWire, bootstrapWire, runtimeOptionsWire } from '@mayu/protocol/light';

/** Whom `start` was started for: its -id and -namespace flags. */
export interface StartIdentity {
  id: string;
  namespace: string;
}

/**
 * containerd 2.3+ writes a BootstrapParams message; earlier versions the
 * options Any itself. As upstream tells them apart: the bytes are
 * BootstrapParams when they decode as one naming this very task and
 * namespace. Its options are then among the extensions.
 */
function optionsAny(bytes: Uint8Array, who: StartIdentity): anyWire.Any | undefined {
  try {
    const params = bootstrapWire.BootstrapParams.decode(bytes);
    if (params.instanceId === who.id && params.namespace === who.namespace) {
      return params.extensions.map((e) => e.value).find((v): v is anyWire.Any => v !== undefined && isRuntimeOptions(v.typeUrl));
    }
  } catch {
    // not BootstrapParams: the options Any of containerd up to 2.2
  }
  try {
    return anyWire.Any.decode(bytes);
  } catch (err) {
    throw new Error(`runtime options from containerd: not a protobuf Any (${(err as Error).message})`);
  }
}

const isRuntimeOptions = (typeUrl: string): boolean => typeUrl.endsWith('runtimeoptions.v1.Options');

/**
 * The runtime options containerd sends `start` on stdin (`options` of the
 * runtime table, as runtimeoptions.v1.Options): its ConfigPath, if any.
 */
export function configPathFromOptions(bytes: Uint8Array, who: StartIdentity): string | undefined {
  if (bytes.length === 0) return undefined;
  return configPathFromAny(optionsAny(bytes, who));
}

/**
 * The ConfigPath of runtime options as an Any: what containerd sends `start`
 * and both containerd and cri-o (its runtime_config_path, as
 * cri.runtimeoptions.v1.Options) put in CreateTaskRequest.options.
 */
export function configPathFromAny(any: anyWire.Any | undefined): string | undefined {
  // Options of another type (runc's, say) carry no ConfigPath for mayu.
  if (!any || !isRuntimeOptions(any.typeUrl)) return undefined;
  try {
    return runtimeOptionsWire.Options.decode(any.value).configPath || undefined;
  } catch (err) {
    throw new Error(`runtime options: ${any.typeUrl} does not decode (${(err as Error).message})`);
  }
}
