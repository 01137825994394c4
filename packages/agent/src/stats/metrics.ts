import { readdirSync, readFileSync } from 'node:fs';

/** Counts guest processes, and those that are zombies (state Z in /proc/PID/stat). */
export function countProcesses(proc = '/proc'): { processes: number; zombies: number } {
  let processes = 0;
  let zombies = 0;
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`${proc}/${entry}/stat`, 'utf8');
      processes++;
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) zombies++;
    } catch {
      // exited meanwhile
    }
  }
  return { processes, zombies };
}

/** The agent's and guest's metrics in Prometheus text format. */
export function guestMetrics(containers: number): string {
  const { processes, zombies } = countProcesses();
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const avail = Number(/^MemAvailable:\s+(\d+) kB$/m.exec(meminfo)?.[1] ?? 0) * 1024;
  const gauges: [string, string, number][] = [
    ['mayu_guest_processes', 'Processes in the guest.', processes],
    ['mayu_guest_zombie_processes', 'Guest processes that exited and were not reaped.', zombies],
    ['mayu_guest_memory_available_bytes', 'MemAvailable of the guest.', avail],
    ['mayu_agent_rss_bytes', 'Resident memory of the agent.', process.memoryUsage.rss()],
    ['mayu_containers', 'Containers the agent manages.', containers],
  ];
  return gauges.map(([name, help, value]) => `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${value}\n`).join('');
}
