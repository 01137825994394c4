import { optionValue, virtioDevice, type DeviceTransport } from './option-value.js';

export interface SerialPortSpec {
  /** "port": a virtserialport (/dev/vportNpM); "console": a virtconsole (/dev/hvcN). */
  kind: 'port' | 'console';
  /** The name the guest sees in /sys/class/virtio-ports/N/name. */
  name: string;
  chardev: string;
}

/** One virtio-serial controller and its ports, in order (the first console is hvc0). */
export function virtioSerialArgs(transport: DeviceTransport, ports: readonly SerialPortSpec[]): string[] {
  const args = ['-device', `${virtioDevice('virtio-serial', transport)},id=vser0`];
  for (const port of ports) {
    const model = port.kind === 'port' ? 'virtserialport' : 'virtconsole';
    args.push('-device', `${model},chardev=${port.chardev},name=${optionValue('port name', port.name)}`);
  }
  return args;
}
