/**
 * Every metric floorgate exports, in one registry. The runtime and the components update
 * them; /metrics renders them. Names are the contract of reference §5.
 */
import { registerProcessMetrics } from './metrics/process.js';
import { Registry } from './metrics/registry.js';
import { VERSION } from './package-info.js';

export class Metrics {
  readonly registry = new Registry();
  readonly readings = this.registry.counter({ name: 'floorgate_readings_total', help: 'Readings taken, per device', labelNames: ['device'] });
  readonly published = this.registry.counter({ name: 'floorgate_published_messages_total', help: 'Messages acknowledged by the broker' });
  readonly bufferMessages = this.registry.gauge({ name: 'floorgate_buffer_messages', help: 'Messages in the buffer, not yet acknowledged' });
  readonly bufferBytes = this.registry.gauge({ name: 'floorgate_buffer_bytes', help: 'Bytes of the buffer on disk' });
  /** 0 while the buffer is empty, so an alert on it needs no absent() clause. */
  readonly bufferOldestAge = this.registry.gauge({
    name: 'floorgate_buffer_oldest_age_seconds', help: 'Age of the oldest reading in the buffer, not yet acknowledged; 0 when empty',
  });
  /**
   * reason: full and max_age (the buffer), device_removed (Sparkplug), too_large (a value too
   * large for mqtt.max_message_bytes even alone, src/message/encode.ts), rejected_by_broker (a
   * message the broker kept refusing, set aside by the forwarder).
   */
  readonly dropped = this.registry.counter({ name: 'floorgate_dropped_total', help: 'Readings dropped, by reason', labelNames: ['reason'] });
  readonly mqttConnected = this.registry.gauge({ name: 'floorgate_mqtt_connected', help: '1 while connected to the broker' });
  readonly deviceUp = this.registry.gauge({ name: 'floorgate_device_up', help: '1 while the device answers', labelNames: ['device'] });
  readonly pollDuration = this.registry.histogram({
    name: 'floorgate_poll_duration_seconds', help: 'Time one poll group took', labelNames: ['device'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  readonly pollOverruns = this.registry.counter({ name: 'floorgate_poll_overruns_total', help: 'Polls skipped because the previous one was still running', labelNames: ['device'] });
  /** Modbus requests, OPC UA service calls, request lines written to a serial instrument. */
  readonly deviceRequests = this.registry.counter({
    name: 'floorgate_device_requests_total', help: 'Requests sent to a device, per device and driver', labelNames: ['device', 'driver'],
  });
  /** SIGHUP reloads: ok, refused (the new config is invalid; the running one is kept), failed. */
  readonly configReloads = this.registry.counter({ name: 'floorgate_config_reloads_total', help: 'Configuration reloads (SIGHUP), by result', labelNames: ['result'] });
  /** Fraction of the last few seconds a shared serial line was held by an exchange; drivers report it (DriverContext.serialLineBusy). */
  readonly serialLineBusy = this.registry.gauge({
    name: 'floorgate_serial_line_busy_ratio', help: 'Fraction of the last 5 s the serial line was busy with requests and replies', labelNames: ['port'],
  });

  /** 1 while the wall clock is trusted: synchronised and not behind the buffer (reference §4.12). */
  readonly clockSynchronized = this.registry.gauge({ name: 'floorgate_clock_synchronized', help: '1 while the wall clock is trusted (synchronised, not behind the newest buffered reading)' });
  readonly clockSteps = this.registry.counter({ name: 'floorgate_clock_steps_total', help: 'Steps of the wall clock against the monotonic clock beyond clock.step_threshold' });

  constructor(withProcessMetrics = true) {
    this.registry.gauge({ name: 'floorgate_build_info', help: 'floorgate version and the Node.js it runs on; always 1', labelNames: ['version', 'node'] })
      .set({ version: VERSION, node: process.version }, 1);
    if (withProcessMetrics) registerProcessMetrics(this.registry);
  }
}
