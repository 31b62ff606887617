/**
 * Every metric floorgate exports, in one registry. The runtime and the components update
 * them; /metrics renders them. Names are the contract of SPEC §5.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly readings = new Counter({ name: 'floorgate_readings_total', help: 'Readings taken, per device', labelNames: ['device'], registers: [this.registry] });
  readonly published = new Counter({ name: 'floorgate_published_messages_total', help: 'Messages acknowledged by the broker', registers: [this.registry] });
  readonly bufferMessages = new Gauge({ name: 'floorgate_buffer_messages', help: 'Messages in the buffer, not yet acknowledged', registers: [this.registry] });
  readonly bufferBytes = new Gauge({ name: 'floorgate_buffer_bytes', help: 'Bytes of the buffer on disk', registers: [this.registry] });
  readonly dropped = new Counter({ name: 'floorgate_dropped_total', help: 'Readings dropped, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly mqttConnected = new Gauge({ name: 'floorgate_mqtt_connected', help: '1 while connected to the broker', registers: [this.registry] });
  readonly deviceUp = new Gauge({ name: 'floorgate_device_up', help: '1 while the device answers', labelNames: ['device'], registers: [this.registry] });
  readonly pollDuration = new Histogram({
    name: 'floorgate_poll_duration_seconds', help: 'Time one poll group took', labelNames: ['device'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
  });
  readonly pollOverruns = new Counter({ name: 'floorgate_poll_overruns_total', help: 'Polls skipped because the previous one was still running', labelNames: ['device'], registers: [this.registry] });
  readonly modbusRequests = new Counter({ name: 'floorgate_modbus_requests_total', help: 'Modbus requests sent', labelNames: ['device'], registers: [this.registry] });

  constructor(withProcessMetrics = true) {
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
