/**
 * A small Prometheus registry: counters, gauges and histograms, rendered in the text exposition
 * format 0.0.4 when scraped and never in between. floorgate exports a dozen metrics; prom-client
 * cost ≈ 2.7 MB of RSS at import and an observer on every GC (issue 9), so we keep our own.
 *
 * The output follows prom-client's, so dashboards and scrapers see no difference: HELP and TYPE
 * for every metric, a blank line between metrics, label pairs in the order of `labelNames`
 * (a histogram's `le` first), and an unlabelled metric shows 0 until it is first updated while
 * a labelled one shows only its HELP and TYPE until it has a series.
 */

/** One value per label name; every name must be given, and no other. */
export type LabelValues<L extends string> = Readonly<Record<L, string | number>>;

export interface MetricOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
}

export interface ScalarOptions<L extends string> extends MetricOptions<L> {
  /** For an unlabelled metric whose value lives elsewhere (CPU time, heap): read at each scrape. */
  readonly collect?: () => number;
}

export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Upper bounds, ascending; `+Inf` is added. */
  readonly buckets: readonly number[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

abstract class Metric<L extends string, S> {
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** Series by their rendered label pairs (`device="press-1"`): unique, since values are escaped. */
  protected readonly series = new Map<string, S>();

  constructor(opts: MetricOptions<L>) {
    if (!METRIC_NAME.test(opts.name)) throw new Error(`invalid metric name "${opts.name}"`);
    for (const label of opts.labelNames ?? []) {
      if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new Error(`metric ${opts.name}: invalid label name "${label}"`);
    }
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames ?? [];
  }

  /** Forgets one series (a device removed by a reload), so it is no longer exported. */
  remove(labels: LabelValues<L>): void {
    this.series.delete(this.keyOf(labels));
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    this.renderSamples(lines);
    return lines.join('\n');
  }

  protected abstract renderSamples(lines: string[]): void;

  protected keyOf(labels: LabelValues<L> | undefined): string {
    const given = labels ?? ({} as LabelValues<L>);
    if (Object.keys(given).length !== this.labelNames.length || this.labelNames.some((l) => given[l] === undefined)) {
      throw new Error(`metric ${this.name}: labels must be exactly {${this.labelNames.join(', ')}}, got {${Object.keys(given).join(', ')}}`);
    }
    return this.labelNames.map((l) => `${l}="${escapeLabelValue(String(given[l]))}"`).join(',');
  }
}

interface ScalarSeries {
  value: number;
}

/** Counter and gauge: one number per series. */
abstract class Scalar<L extends string> extends Metric<L, ScalarSeries> {
  private readonly collect?: () => number;

  constructor(opts: ScalarOptions<L>) {
    super(opts);
    if (opts.collect && this.labelNames.length > 0) throw new Error(`metric ${opts.name}: collect needs an unlabelled metric`);
    this.collect = opts.collect;
    if (this.labelNames.length === 0) this.series.set('', { value: 0 });
  }

  /** The series' current value; undefined when it has none. */
  get(labels?: LabelValues<L>): number | undefined {
    return this.series.get(this.keyOf(labels))?.value;
  }

  protected seriesOf(labels: LabelValues<L> | undefined): ScalarSeries {
    const key = this.keyOf(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { value: 0 }));
    return s;
  }

  protected renderSamples(lines: string[]): void {
    if (this.collect) this.series.set('', { value: this.collect() });
    for (const [key, s] of this.series) lines.push(`${this.name}${braced(key)} ${formatNumber(s.value)}`);
  }
}

export class Counter<L extends string = never> extends Scalar<L> {
  readonly type = 'counter';

  inc(labels?: LabelValues<L>, n = 1): void {
    this.checkStep(n);
    this.seriesOf(labels).value += n;
  }

  /** One series, its labels checked and joined once: for updates on a hot path (per poll, per request). */
  labels(labels: LabelValues<L>): { inc(n?: number): void } {
    const series = this.seriesOf(labels);
    return {
      inc: (n = 1) => {
        this.checkStep(n);
        series.value += n;
      },
    };
  }

  private checkStep(n: number): void {
    if (!(n >= 0)) throw new Error(`metric ${this.name}: a counter only goes up, got ${n}`);
  }
}

export class Gauge<L extends string = never> extends Scalar<L> {
  readonly type = 'gauge';

  set(value: number): void;
  set(labels: LabelValues<L>, value: number): void;
  set(labelsOrValue: LabelValues<L> | number, value?: number): void {
    if (typeof labelsOrValue === 'number') this.seriesOf(undefined).value = labelsOrValue;
    else this.seriesOf(labelsOrValue).value = value!;
  }

  /** One series, its labels checked and joined once (see Counter.labels). */
  labels(labels: LabelValues<L>): { set(value: number): void } {
    const series = this.seriesOf(labels);
    return { set: (value) => { series.value = value; } };
  }
}

interface HistogramSeries {
  /** Observations per bucket, not cumulative (they are summed when rendered); the last is +Inf. */
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Histogram<L extends string = never> extends Metric<L, HistogramSeries> {
  readonly type = 'histogram';
  private readonly bounds: readonly number[];

  constructor(opts: HistogramOptions<L>) {
    super(opts);
    if (this.labelNames.includes('le' as L)) throw new Error(`metric ${opts.name}: "le" is the bucket label`);
    if (opts.buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= opts.buckets[i - 1]))) {
      throw new Error(`metric ${opts.name}: buckets must be finite and ascending`);
    }
    this.bounds = [...opts.buckets];
    if (this.labelNames.length === 0) this.series.set('', this.emptySeries());
  }

  observe(labels: LabelValues<L>, value: number): void {
    this.record(this.seriesOf(labels), value);
  }

  /** One series, its labels checked and joined once (see Counter.labels). */
  labels(labels: LabelValues<L>): { observe(value: number): void } {
    const series = this.seriesOf(labels);
    return { observe: (value) => this.record(series, value) };
  }

  private seriesOf(labels: LabelValues<L>): HistogramSeries {
    const key = this.keyOf(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = this.emptySeries()));
    return s;
  }

  private record(s: HistogramSeries, value: number): void {
    const bucket = this.bounds.findIndex((b) => value <= b);
    s.counts[bucket === -1 ? this.bounds.length : bucket]++;
    s.sum += value;
    s.count++;
  }

  protected renderSamples(lines: string[]): void {
    for (const [key, s] of this.series) {
      const rest = key === '' ? '' : `,${key}`;
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i];
        const le = i < this.bounds.length ? formatNumber(this.bounds[i]) : '+Inf';
        lines.push(`${this.name}_bucket{le="${le}"${rest}} ${cumulative}`);
      }
      lines.push(`${this.name}_sum${braced(key)} ${formatNumber(s.sum)}`, `${this.name}_count${braced(key)} ${s.count}`);
    }
  }

  private emptySeries(): HistogramSeries {
    return { counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
  }
}

type AnyMetric = Metric<string, unknown>;

/** The metrics of one process, in registration order; names are unique. */
export class Registry {
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8';
  private readonly metrics = new Map<string, AnyMetric>();
  private readonly collectors = new Set<() => void>();

  counter<L extends string = never>(opts: ScalarOptions<L>): Counter<L> {
    return this.add(new Counter(opts));
  }

  gauge<L extends string = never>(opts: ScalarOptions<L>): Gauge<L> {
    return this.add(new Gauge(opts));
  }

  histogram<L extends string = never>(opts: HistogramOptions<L>): Histogram<L> {
    return this.add(new Histogram(opts));
  }

  /**
   * Runs `collect` at each scrape, before anything is rendered: it sets gauges whose values live
   * elsewhere (the buffer's size), which would otherwise need a timer to stay current. Returns
   * the function that removes it.
   */
  onCollect(collect: () => void): () => void {
    this.collectors.add(collect);
    return () => this.collectors.delete(collect);
  }

  /** The exposition text of every metric, as of now. */
  render(): string {
    for (const collect of this.collectors) collect();
    return `${[...this.metrics.values()].map((m) => m.render()).join('\n\n')}\n`;
  }

  private add<M extends AnyMetric>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is already registered`);
    this.metrics.set(metric.name, metric);
    return metric;
  }
}

function braced(pairs: string): string {
  return pairs === '' ? '' : `{${pairs}}`;
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(value: string): string {
  return escapeHelp(value).replace(/"/g, '\\"');
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}
