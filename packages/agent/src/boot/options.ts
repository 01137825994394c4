import { AGENT_SERIAL_PORT_NAME, AGENT_VSOCK_PORT } from '@mayu/protocol';

/**
 * The agent's options, from its arguments. mayu-init passes every `agent.*`
 * word of the kernel command line, so the host sets them with kernel
 * parameters such as `agent.log=debug`.
 */
export interface AgentOptions {
  /** pino level (agent.log; default info). */
  logLevel: string;
  /** virtio-serial port name to serve gRPC on (agent.channel; default agent.channel.0). */
  serialPort: string;
  /** vsock port to serve gRPC on (agent.vsock_port; default 1024). */
  vsockPort: number;
  /** Device the agent's pino logs go to (agent.log_device; default /dev/hvc0, the first virtio console). */
  logDevice: string;
  /** Guest hostname (agent.hostname; default mayu). */
  hostname: string;
  /** Run a self-test instead of serving, print its result and exit (agent.selftest). */
  selftest: string | null;
}

export const DEFAULT_OPTIONS: Readonly<AgentOptions> = {
  logLevel: 'info',
  serialPort: AGENT_SERIAL_PORT_NAME,
  vsockPort: AGENT_VSOCK_PORT,
  logDevice: '/dev/hvc0',
  hostname: 'mayu',
  selftest: null,
};

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Parses `agent.key=value` words; unknown keys and bad values are reported, not fatal. */
export function parseAgentOptions(args: readonly string[]): { options: AgentOptions; warnings: string[] } {
  const options: AgentOptions = { ...DEFAULT_OPTIONS };
  const warnings: string[] = [];
  for (const arg of args) {
    const m = /^agent\.([a-z_]+)=(.*)$/.exec(arg);
    if (!m) {
      warnings.push(`ignored argument ${JSON.stringify(arg)}`);
      continue;
    }
    const [, key, value] = m as unknown as [string, string, string];
    switch (key) {
      case 'log':
        if (LEVELS.has(value)) options.logLevel = value;
        else warnings.push(`agent.log: unknown level ${JSON.stringify(value)}`);
        break;
      case 'channel':
        options.serialPort = value;
        break;
      case 'vsock_port': {
        const port = Number(value);
        if (Number.isInteger(port) && port > 0 && port < 2 ** 32) options.vsockPort = port;
        else warnings.push(`agent.vsock_port: not a port ${JSON.stringify(value)}`);
        break;
      }
      case 'log_device':
        if (value.startsWith('/dev/')) options.logDevice = value;
        else warnings.push(`agent.log_device: not a device path ${JSON.stringify(value)}`);
        break;
      case 'hostname':
        if (/^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/.test(value)) options.hostname = value;
        else warnings.push(`agent.hostname: invalid hostname ${JSON.stringify(value)}`);
        break;
      case 'selftest':
        options.selftest = value;
        break;
      default:
        warnings.push(`unknown option agent.${key}`);
    }
  }
  return { options, warnings };
}
