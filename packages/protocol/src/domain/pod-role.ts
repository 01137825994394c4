import { MayuError } from '../errors/mayu-error.js';

/**
 * The annotations by which an engine says a container belongs to a pod: the
 * container type (`sandbox` for the pod's own, `container` for the others)
 * and the pod's sandbox id — cri-o's and containerd CRI's, as Kata reads
 * them. One table for every front end.
 */
export const POD_ANNOTATIONS = [
  { type: 'io.kubernetes.cri-o.ContainerType', sandbox: 'io.kubernetes.cri-o.SandboxID' },
  { type: 'io.kubernetes.cri.container-type', sandbox: 'io.kubernetes.cri.sandbox-id' },
] as const;

/**
 * A container of its own VM (no pod annotations, or a pod's sandbox
 * container), or one of a pod's other containers, which joins its pod's VM:
 * `annotation` names the annotation that said which pod.
 */
export type PodRole = { kind: 'own-vm' } | { kind: 'member'; sandboxId: string; annotation: string };

/** A container's place in its pod, from its spec's annotations; `container` without a pod id is refused, naming both. */
export function podRoleOf(annotations: unknown): PodRole {
  if (typeof annotations !== 'object' || annotations === null) return { kind: 'own-vm' };
  const a = annotations as Record<string, unknown>;
  for (const names of POD_ANNOTATIONS) {
    if (a[names.type] !== 'container') continue;
    const sandboxId = a[names.sandbox];
    if (typeof sandboxId !== 'string' || sandboxId === '')
      throw new MayuError('ERR_INVALID_ARGUMENT', `annotation ${names.type} is "container" but ${names.sandbox} does not name the pod's sandbox (${JSON.stringify(sandboxId)})`, {
        details: { field: `/annotations/${names.sandbox}`, value: sandboxId },
      });
    return { kind: 'member', sandboxId, annotation: names.sandbox };
  }
  return { kind: 'own-vm' };
}

/** Whether the annotations make this a pod's sandbox (pause) container: its VM is the pod's, and serves the pod's port-forward. */
export function isPodSandbox(annotations: unknown): boolean {
  if (typeof annotations !== 'object' || annotations === null) return false;
  return POD_ANNOTATIONS.some((names) => (annotations as Record<string, unknown>)[names.type] === 'sandbox');
}

/**
 * Whether a spec is a Kubernetes pod's (a sandbox or container of
 * containerd's CRI, or of cri-o's), by the annotations both write on every
 * spec they make; a standalone container (ctr, an engine) has none.
 */
export function isKubernetesSpec(spec: { annotations?: Record<string, string> }): boolean {
  return Object.keys(spec.annotations ?? {}).some((k) => k.startsWith('io.kubernetes.cri.') || k.startsWith('io.kubernetes.cri-o.'));
}
