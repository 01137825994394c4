/**
 * The MAC of a template VM's n-th NIC (locally administered, "mayu"): a
 * clone's guest has it until the agent gives the NIC the pod's.
 */
export function templateMac(n: number): string {
  return `02:6d:61:79:75:${(n & 0xff).toString(16).padStart(2, '0')}`;
}
