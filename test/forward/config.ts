/** A complete, normalised config for forwarder tests; only the mqtt and buffer keys matter here. */
import type { BufferConfig, FloorgateConfig, MqttConfig } from '../../src/config/types.js';

export function testConfig(opts: { url?: string; dataDir?: string; mqtt?: Partial<MqttConfig>; buffer?: Partial<BufferConfig> } = {}): FloorgateConfig {
  return {
    source: '/dev/null',
    gateway: { id: 'gw-test', data_dir: opts.dataDir ?? '/nonexistent' },
    log: { level: 'info' },
    mqtt: {
      url: opts.url ?? 'mqtt://127.0.0.1:9',
      client_id: 'gw-test',
      qos: 1,
      format: 'json',
      topic_prefix: 'fg',
      max_inflight: 64,
      publish: 'per_device',
      json_layout: 'readings',
      max_message_bytes: 128_000,
      keepalive: 10_000,
      reconnect_min: 100,
      reconnect_max: 1_000,
      ...opts.mqtt,
    },
    buffer: {
      max_bytes: 256 * 1024 * 1024,
      max_age: 7 * 24 * 3600_000,
      when_full: 'drop_oldest',
      sync: 'normal',
      commit_interval: 20,
      replay: 'live_first',
      replay_rate: 0,
      ...opts.buffer,
    },
    http: { listen: false, allow_remote: false },
    clock: { enabled: true, sync_source: 'kernel', step_threshold: 1000, check_interval: 5000 },
    devices: [],
  };
}
