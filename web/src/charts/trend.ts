// Trends of a machine's tags over the historian, drawn by uPlot on a canvas.
//
// The chart never asks for more points than it has pixels: a window whose pixel spans at most a
// second gets the raw points; a wider one gets avg, min and max per step, the step the first
// round duration of at least one pixel's time (model.trendStep), with min..max as a band so a
// spike survives the averaging. A week of 1 Hz data on a 1000-pixel chart is 1008 windows of
// 10 min, which the historian answers from its rollups. Zoom: drag across the chart, the mouse
// wheel, a pinch, or the span buttons; pan: shift+drag, one finger, or the arrows; double-click
// goes back to the last hour, following now.
import uPlot from 'uplot';
import { ApiError, api, type Series } from '../api';
import { dayHm, hm, iso, num, parseTime, zoned } from '../format';
import { alignDown, numericPoints, trendStep } from '../model';

export interface TrendTag { path: string; name: string; unit: string | null; }

const PALETTE = ['#5aa9ff', '#ffb44d', '#3ccf74', '#ff6bb5', '#b48cff', '#4fd6d0'];
const MIN_SPAN = 10_000, MAX_SPAN = 400 * 86400_000;

export const SPANS: [string, number][] = [
  ['15 min', 15 * 60_000], ['1 h', 3600_000], ['8 h', 8 * 3600_000], ['24 h', 86400_000],
  ['7 d', 7 * 86400_000], ['30 d', 30 * 86400_000],
];

export class Trend {
  private u: uPlot | null = null;
  private tags: TrendTag[] = [];
  private from = Date.now() - 3600_000;
  private to = Date.now();
  private follow = true;
  private loadTimer = 0;
  private liveTimer = 0;
  private ac: AbortController | null = null;
  private ro: ResizeObserver;
  private plotEl = document.createElement('div');
  private statusEl = document.createElement('div');
  private pointers = new Map<number, { x: number }>();
  private gesture: { from: number; to: number; x0: number; dist0: number } | null = null;
  /** Called after each load with what was drawn (the test and the status line read it). */
  onLoaded: (info: { raw: boolean; step: string | null; points: number; ms: number }) => void = () => {};
  onWindow: (from: number, to: number, follow: boolean) => void = () => {};

  constructor(host: HTMLElement, private tz: string) {
    this.plotEl.className = 'plot';
    this.statusEl.className = 'status';
    this.plotEl.append(this.statusEl);
    host.append(this.plotEl);
    this.ro = new ResizeObserver(() => {
      if (this.u) this.u.setSize({ width: this.width(), height: this.height() });
    });
    this.ro.observe(this.plotEl);
    this.liveTimer = window.setInterval(() => {
      if (!this.follow || document.hidden) return;
      const span = this.to - this.from;
      this.setWindow(Date.now() - span, Date.now(), true, 0);
    }, 2000);
    this.plotEl.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    this.plotEl.addEventListener('pointerdown', (e) => this.down(e));
    this.plotEl.addEventListener('pointermove', (e) => this.move(e));
    for (const t of ['pointerup', 'pointercancel', 'pointerleave']) this.plotEl.addEventListener(t, (e) => this.up(e as PointerEvent));
    this.plotEl.addEventListener('dblclick', () => this.setSpan(3600_000));
  }

  private width() { return Math.max(200, this.plotEl.clientWidth); }
  private height() { return Math.max(240, Math.min(420, Math.round(window.innerHeight * 0.42))); }

  get window() { return { from: this.from, to: this.to, follow: this.follow }; }

  setTags(tags: TrendTag[]): void {
    this.tags = tags;
    this.rebuild();
    this.load(0);
  }

  /** A window of SPAN ms that ends now and follows it. */
  setSpan(span: number): void {
    this.setWindow(Date.now() - span, Date.now(), true);
  }

  /** Moves the window by FRACTION of its span (negative: back in time). */
  pan(fraction: number): void {
    const span = this.to - this.from, d = span * fraction;
    const to = Math.min(Date.now(), this.to + d);
    this.setWindow(to - span, to, to >= Date.now() - 1000);
  }

  setWindow(from: number, to: number, follow: boolean, debounce = 150): void {
    let span = Math.min(MAX_SPAN, Math.max(MIN_SPAN, to - from));
    const mid = (from + to) / 2;
    from = mid - span / 2;
    to = mid + span / 2;
    if (to > Date.now() + 60_000) { to = Date.now(); from = to - span; }
    span = to - from;
    this.from = from;
    this.to = to;
    this.follow = follow;
    this.u?.setScale('x', { min: from / 1000, max: to / 1000 });
    this.onWindow(from, to, follow);
    this.load(debounce);
  }

  destroy(): void {
    clearInterval(this.liveTimer);
    clearTimeout(this.loadTimer);
    this.ac?.abort();
    this.ro.disconnect();
    this.u?.destroy();
  }

  private rebuild(): void {
    this.u?.destroy();
    this.u = null;
    if (!this.tags.length) return;
    const units: string[] = [];
    for (const t of this.tags) { const k = t.unit ?? ''; if (!units.includes(k)) units.push(k); }
    const series: uPlot.Series[] = [{ value: (_u, v) => (v === null || v === undefined ? '–' : `${dayHm(v * 1000, this.tz)}:${String(Math.floor(v % 60)).padStart(2, '0')}`) }];
    const scales: uPlot.Scales = { x: { time: true, auto: false } };
    const tz = this.tz;
    // times on the plant's 24-hour clock; the date under the first tick and under each midnight
    const axisTime = (_u: uPlot, splits: number[], _i: number, _s: number, incr: number) => splits.map((s, i) => {
      if (s === null || s === undefined) return '';
      const ms = s * 1000, z = zoned(ms, tz);
      const date = dayHm(ms, tz).split(' ').slice(0, 3).join(' ').replace(/,$/, '');
      if (incr >= 86400) return date;
      const time = hm(ms, tz, incr < 60);
      return i === 0 || (z.h === 0 && z.mi === 0 && z.s === 0) ? `${time}\n${date}` : time;
    });
    const axes: uPlot.Axis[] = [{ stroke: '#a7b1be', grid: { stroke: '#323c4a55' }, ticks: { stroke: '#323c4a' }, values: axisTime,
                                  space: 70, size: 46 }];
    units.forEach((unit, i) => {
      const key = `y${i}`;
      scales[key] = { auto: true };
      if (i < 2) axes.push({ scale: key, side: i === 0 ? 3 : 1, stroke: '#a7b1be', label: unit || undefined,
                             grid: { show: i === 0, stroke: '#323c4a55' }, ticks: { stroke: '#323c4a' },
                             size: 60 });
    });
    const bands: uPlot.Band[] = [];
    this.tags.forEach((t, i) => {
      const colour = PALETTE[i % PALETTE.length];
      const scale = `y${units.indexOf(t.unit ?? '')}`;
      const base = series.length;
      series.push({ label: t.name + (t.unit ? ` (${t.unit})` : ''), stroke: colour, width: 1.5, scale, spanGaps: false,
                    value: (_u, v) => (v === null || v === undefined ? '–' : num(v, 2)) });
      series.push({ label: `${t.name} min`, stroke: colour + '55', width: 0.5, scale, spanGaps: false });
      series.push({ label: `${t.name} max`, stroke: colour + '55', width: 0.5, scale, spanGaps: false });
      bands.push({ series: [base + 2, base + 1], fill: colour + '26' });
    });
    const opts: uPlot.Options = {
      width: this.width(), height: this.height(), series, scales, axes, bands,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), tz),
      cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
      legend: { live: true },
      hooks: {
        setSelect: [(u) => {
          if (u.select.width > 4) {
            const a = u.posToVal(u.select.left, 'x') * 1000, b = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
            this.setWindow(a, b, false, 0);
          }
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        }],
      },
    };
    const empty: uPlot.AlignedData = [[], ...series.slice(1).map(() => [])] as unknown as uPlot.AlignedData;
    this.u = new uPlot(opts, empty, this.plotEl);
    this.u.setScale('x', { min: this.from / 1000, max: this.to / 1000 });
    // the min and max series draw the band; their legend rows would only repeat the colour
    const rows = this.u.root.querySelectorAll<HTMLElement>('.u-legend .u-series');
    rows.forEach((r, i) => { if (i > 0 && (i - 1) % 3 !== 0) r.style.display = 'none'; });
  }

  private load(debounce: number): void {
    clearTimeout(this.loadTimer);
    this.loadTimer = window.setTimeout(() => this.fetch(), debounce);
  }

  private async fetch(): Promise<void> {
    if (!this.u || !this.tags.length) return;
    this.ac?.abort();
    const ac = (this.ac = new AbortController());
    const t0 = performance.now();
    const plotPx = this.u.bbox.width / (window.devicePixelRatio || 1) || this.width();
    const st = trendStep(this.to - this.from, plotPx);
    // aligned windows: the same step boundaries at every refresh, and rollups can answer
    const from = st.raw ? this.from : alignDown(this.from, st.stepS);
    const to = st.raw ? this.to : alignDown(this.to, st.stepS) + st.stepS * 1000;
    const one = async (tag: string, agg?: string): Promise<Series | null> => {
      try {
        const q = await api.query({ tag: [tag], from: iso(from), to: iso(to), agg, step: st.raw ? undefined : st.step }, ac.signal);
        return q.series[0] ?? null;
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return null; // no data yet
        throw e;
      }
    };
    try {
      const tables: uPlot.AlignedData[] = [];
      let points = 0;
      const answers = await Promise.all(this.tags.map((t) => st.raw
        ? Promise.all([one(t.path)])
        : Promise.all([one(t.path, 'avg'), one(t.path, 'min'), one(t.path, 'max')])));
      for (const a of answers) {
        const [xs, avg] = numericPoints(a[0]?.points ?? [], parseTime);
        points += xs.length;
        const lo = a[1] ? numericPoints(a[1].points, parseTime)[1] : avg.map(() => null);
        const hi = a[2] ? numericPoints(a[2].points, parseTime)[1] : avg.map(() => null);
        // an aggregate's point is its window's start: draw it in the window's middle
        const shift = st.raw ? 0 : st.stepS / 2;
        tables.push([xs.map((x) => x + shift), avg, lo.length === xs.length ? lo : avg.map(() => null),
                     hi.length === xs.length ? hi : avg.map(() => null)] as uPlot.AlignedData);
      }
      if (ac.signal.aborted || !this.u) return;
      const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
      this.u.setData(data, false);
      this.u.setScale('x', { min: this.from / 1000, max: this.to / 1000 });
      const ms = Math.round(performance.now() - t0);
      this.statusEl.textContent = points === 0 ? 'no data in this window'
        : (st.raw ? `raw · ${num(points)} points` : `avg, min, max per ${st.step} · ${num(points)} windows`) + ` · ${ms} ms`;
      // what is drawn, for people's tools and the browser test
      this.plotEl.dataset.points = String(points);
      this.plotEl.dataset.step = st.raw ? 'raw' : st.step;
      this.plotEl.dataset.span = String(Math.round((this.to - this.from) / 1000));
      this.plotEl.dataset.to = String(Math.round(this.to));
      this.onLoaded({ raw: st.raw, step: st.raw ? null : st.step, points, ms });
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      this.statusEl.textContent = `cannot load: ${(e as Error).message}`;
    }
  }

  // ---- gestures ---------------------------------------------------------------------------

  private plotRect() { return this.u ? this.u.over.getBoundingClientRect() : this.plotEl.getBoundingClientRect(); }

  private wheel(e: WheelEvent): void {
    if (!this.u) return;
    e.preventDefault();
    const r = this.plotRect();
    const f = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    const at = this.from + f * (this.to - this.from);
    const k = Math.pow(1.0015, e.deltaY);
    const span = (this.to - this.from) * k;
    this.setWindow(at - f * span, at + (1 - f) * span, false);
  }

  private down(e: PointerEvent): void {
    if (!this.u) return;
    if (e.pointerType === 'mouse' && !e.shiftKey) return; // a plain drag selects (uPlot)
    e.preventDefault();
    e.stopPropagation();
    this.plotEl.setPointerCapture(e.pointerId);
    this.pointers.set(e.pointerId, { x: e.clientX });
    this.startGesture();
  }

  private startGesture(): void {
    const xs = [...this.pointers.values()].map((p) => p.x);
    this.gesture = { from: this.from, to: this.to, x0: xs.reduce((a, b) => a + b, 0) / xs.length,
                     dist0: xs.length > 1 ? Math.abs(xs[0] - xs[1]) : 0 };
  }

  private move(e: PointerEvent): void {
    const p = this.pointers.get(e.pointerId);
    if (!p || !this.gesture) return;
    p.x = e.clientX;
    const xs = [...this.pointers.values()].map((q) => q.x);
    const r = this.plotRect();
    const g = this.gesture, span0 = g.to - g.from;
    const mid = xs.reduce((a, b) => a + b, 0) / xs.length;
    let span = span0;
    if (xs.length > 1 && g.dist0 > 10) span = span0 * (g.dist0 / Math.max(10, Math.abs(xs[0] - xs[1])));
    const anchor = g.from + ((g.x0 - r.left) / r.width) * span0;   // the time under the fingers
    const f = (mid - r.left) / r.width;
    this.setWindow(anchor - f * span, anchor + (1 - f) * span, false);
  }

  private up(e: PointerEvent): void {
    if (!this.pointers.delete(e.pointerId)) return;
    if (this.pointers.size) this.startGesture();
    else this.gesture = null;
  }
}
