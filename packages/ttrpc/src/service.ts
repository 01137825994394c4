import type { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';

/** How ts-proto's generated messages encode and decode. */
export interface MessageCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: BinaryReader | Uint8Array, length?: number): T;
  fromPartial(object: never): T;
}

export interface MethodDefinition<Req = unknown, Res = unknown> {
  /** The wire name ("Create"). */
  name: string;
  requestType: MessageCodec<Req>;
  responseType: MessageCodec<Res>;
  requestStream: boolean;
  responseStream: boolean;
}

/** A service as ts-proto's `outputServices=generic-definitions` writes it. */
export interface ServiceDefinition {
  /** The fully qualified name ("containerd.task.v2.Task"). */
  fullName: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each method has its own message types
  methods: Record<string, MethodDefinition<any, any>>;
}

export interface CallContext {
  service: string;
  method: string;
  /** Request metadata (ttrpc KeyValue pairs), by key. */
  metadata: Record<string, string[]>;
  /** Aborted when the caller's deadline passes. */
  signal: AbortSignal;
}

type RequestOf<M> = M extends { requestType: MessageCodec<infer Req> } ? Req : never;
type ResponseOf<M> = M extends { responseType: MessageCodec<infer Res> } ? Res : never;

/** What a server implements for a service: one async function per method (by its property name). */
export type ServiceImplementation<S extends ServiceDefinition> = {
  [K in keyof S['methods']]: (request: RequestOf<S['methods'][K]>, ctx: CallContext) => Promise<ResponseOf<S['methods'][K]>>;
};

/** What a client offers for a service: one async function per method. */
export type ServiceClient<S extends ServiceDefinition> = {
  [K in keyof S['methods']]: (request: RequestOf<S['methods'][K]>, options?: { timeoutMs?: number; metadata?: Record<string, string> }) => Promise<ResponseOf<S['methods'][K]>>;
};
