/**
 * The process metrics prom-client's collectDefaultMetrics exported that floorgate's dashboards
 * and soak test use, under the same names and types (but nodejs_active_handles, without
 * prom-client's `_total`: it is a gauge, not a counter). Each is read when /metrics is scraped and
 * never in between: no GC observer, no event-loop histogram, no timer.
 */
import fs from 'node:fs';
import type { Registry } from './registry.js';

const FD_DIR = '/proc/self/fd';
const START_TIME_SECONDS = Math.round(Date.now() / 1000 - process.uptime());

/** Not in @types/node, but present since Node 0.x; the soak test watches it for leaks. */
const activeHandles = (process as { _getActiveHandles?: () => unknown[] })._getActiveHandles;

export function registerProcessMetrics(registry: Registry): void {
  const cpuSeconds = (part: 'user' | 'system' | 'both') => {
    const { user, system } = process.cpuUsage();
    return (part === 'user' ? user : part === 'system' ? system : user + system) / 1e6;
  };
  registry.counter({ name: 'process_cpu_user_seconds_total', help: 'Total user CPU time spent in seconds.', collect: () => cpuSeconds('user') });
  registry.counter({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.', collect: () => cpuSeconds('system') });
  registry.counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', collect: () => cpuSeconds('both') });
  registry.gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds.' }).set(START_TIME_SECONDS);
  registry.gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', collect: () => process.memoryUsage.rss() });
  if (fs.existsSync(FD_DIR)) {
    registry.gauge({
      name: 'process_open_fds', help: 'Number of open file descriptors.',
      collect: () => {
        try {
          // Less the descriptor readdir itself opened (closed again by now).
          return fs.readdirSync(FD_DIR).length - 1;
        } catch {
          // Out of descriptors: listing them needs one. A scrape must not fail for it.
          return NaN;
        }
      },
    });
  }
  registry.gauge({ name: 'nodejs_heap_size_total_bytes', help: 'Process heap size from Node.js in bytes.', collect: () => process.memoryUsage().heapTotal });
  registry.gauge({ name: 'nodejs_heap_size_used_bytes', help: 'Process heap size used from Node.js in bytes.', collect: () => process.memoryUsage().heapUsed });
  registry.gauge({ name: 'nodejs_external_memory_bytes', help: 'Node.js external memory size in bytes.', collect: () => process.memoryUsage().external });
  if (activeHandles) {
    registry.gauge({ name: 'nodejs_active_handles', help: 'Number of active handles.', collect: () => activeHandles.call(process).length });
  }
  const [major, minor, patch] = process.versions.node.split('.');
  registry.gauge({ name: 'nodejs_version_info', help: 'Node.js version info.', labelNames: ['version', 'major', 'minor', 'patch'] })
    .set({ version: process.version, major, minor, patch }, 1);
}
