// A machine's state timeline on a canvas: one lane of states, one lane of downtime events with
// their reasons (unclassified ones outlined, so they stand out), a time axis in the plant's zone,
// and a tooltip that names the state, the rule that set it and the stop's reason. Thousands of
// intervals draw in a millisecond: neighbours narrower than a pixel merge into one fill.
import type { State } from '../api';
import { dayHm, dur, hm, reasonLabel, stateLabel, zoned } from '../format';

export interface TlInterval { start: number; end: number; state: State; rule: string; }
export interface TlStop { start: number; end: number; reason: string | null; reason_by: string | null; planned: boolean; state: State; }
export interface TimelineData { from: number; to: number; intervals: TlInterval[]; stops: TlStop[]; }

const LANE = 46, GAP = 6, STOPS = 24, AXIS = 20;
const TICKS_MIN = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

export class TimelineChart {
  readonly canvas = document.createElement('canvas');
  private tip = document.createElement('div');
  private data: TimelineData | null = null;
  private ro: ResizeObserver;
  private colours = new Map<string, string>();

  constructor(private host: HTMLElement, private tz: string) {
    host.classList.add('timeline-wrap');
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', 'state timeline');
    this.tip.className = 'tooltip';
    this.tip.hidden = true;
    host.append(this.canvas, this.tip);
    this.ro = new ResizeObserver(() => this.draw());
    this.ro.observe(host);
    this.canvas.addEventListener('pointermove', (e) => this.hover(e));
    this.canvas.addEventListener('pointerleave', () => { this.tip.hidden = true; });
  }

  private colour(state: string): string {
    let c = this.colours.get(state);
    if (!c) this.colours.set(state, (c = cssVar(`--st-${state}`)));
    return c;
  }

  set(d: TimelineData): void {
    this.data = d;
    this.draw();
  }

  destroy(): void {
    this.ro.disconnect();
  }

  private x(t: number, w: number): number {
    const d = this.data!;
    return ((t - d.from) / (d.to - d.from)) * w;
  }

  draw(): void {
    const w = this.host.clientWidth, hgt = LANE + GAP + STOPS + AXIS;
    if (!w) return;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(hgt * dpr);
    this.canvas.style.height = `${hgt}px`;
    const g = this.canvas.getContext('2d')!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    g.fillStyle = cssVar('--panel2');
    g.fillRect(0, 0, w, LANE);
    const d = this.data;
    if (!d || d.to <= d.from) return;

    // states; intervals narrower than a pixel share their column, which takes the state that
    // covers most of it
    let col = -1;
    const cover = new Map<string, number>();
    const flushCol = () => {
      if (col < 0) return;
      let best = '', most = 0;
      for (const [st, len] of cover) if (len > most) { best = st; most = len; }
      g.fillStyle = this.colour(best);
      g.fillRect(col, 0, 1, LANE);
      cover.clear();
      col = -1;
    };
    for (const iv of d.intervals) {
      const a = Math.max(0, this.x(iv.start, w)), b = Math.min(w, this.x(iv.end, w));
      if (b <= a) continue;
      if (b - a >= 1) {
        flushCol();
        g.fillStyle = this.colour(iv.state);
        g.fillRect(a, 0, b - a + 0.5, LANE);
        continue;
      }
      const c = Math.floor(a);
      if (c !== col) { flushCol(); col = c; }
      cover.set(iv.state, (cover.get(iv.state) ?? 0) + (b - a));
    }
    flushCol();

    // downtime events and their reasons
    const y0 = LANE + GAP;
    g.font = '12px system-ui, sans-serif';
    g.textBaseline = 'middle';
    for (const s of d.stops) {
      const a = Math.max(0, this.x(s.start, w)), b = Math.min(w, this.x(s.end, w));
      if (b <= 0 || a >= w) continue;
      const bw = Math.max(2, b - a);
      if (s.reason) {
        g.fillStyle = s.planned ? cssVar('--st-planned_stop') : '#8d3434';
        g.fillRect(a, y0, bw, STOPS);
      } else {
        g.strokeStyle = cssVar('--warn');
        g.setLineDash([4, 3]);
        g.lineWidth = 2;
        g.strokeRect(a + 1, y0 + 1, bw - 2, STOPS - 2);
        g.setLineDash([]);
      }
      const label = s.reason ? reasonLabel(s.reason) : '?';
      if (g.measureText(label).width + 8 < bw) {
        g.fillStyle = s.reason ? '#fff' : cssVar('--warn');
        g.fillText(label, a + 4, y0 + STOPS / 2);
      }
    }

    // the time axis, on round local times
    const span = d.to - d.from;
    const minutes = TICKS_MIN.find((m) => (m * 60000 * w) / span >= 90) ?? 1440;
    const z = zoned(d.from, this.tz);
    const offset = Date.UTC(z.y, z.mo - 1, z.d, z.h, z.mi, z.s) - Math.floor(d.from / 1000) * 1000;
    const step = minutes * 60000;
    let t = Math.ceil((d.from + offset) / step) * step - offset;
    g.fillStyle = cssVar('--muted');
    g.strokeStyle = cssVar('--line');
    g.lineWidth = 1;
    g.textBaseline = 'top';
    for (; t <= d.to; t += step) {
      const x = Math.round(this.x(t, w)) + 0.5;
      g.beginPath(); g.moveTo(x, 0); g.lineTo(x, LANE + GAP + STOPS + 4); g.globalAlpha = 0.35; g.stroke(); g.globalAlpha = 1;
      const label = minutes >= 1440 ? dayHm(t, this.tz).split(' ').slice(0, 3).join(' ') : hm(t, this.tz);
      const tw = g.measureText(label).width;
      if (x - tw / 2 > 0 && x + tw / 2 < w) g.fillText(label, x - tw / 2, LANE + GAP + STOPS + 5);
    }
  }

  private hover(e: PointerEvent): void {
    const d = this.data;
    if (!d) return;
    const r = this.canvas.getBoundingClientRect();
    const t = d.from + ((e.clientX - r.left) / r.width) * (d.to - d.from);
    const iv = d.intervals.find((i) => i.start <= t && t < i.end);
    const st = d.stops.find((s) => s.start <= t && t < s.end);
    if (!iv && !st) { this.tip.hidden = true; return; }
    const lines: string[] = [];
    if (iv) lines.push(`${stateLabel(iv.state).toUpperCase()} · ${iv.rule}`, `${hm(iv.start, this.tz, true)}–${hm(iv.end, this.tz, true)} (${dur((iv.end - iv.start) / 1000)})`);
    if (st) lines.push(`stop ${hm(st.start, this.tz)}, ${dur((st.end - st.start) / 1000)}: ${st.reason ? reasonLabel(st.reason) + (st.reason_by ? ` (by ${st.reason_by})` : '') : 'waiting for a reason'}`);
    this.tip.replaceChildren(...lines.map((l) => { const div = document.createElement('div'); div.textContent = l; return div; }));
    this.tip.hidden = false;
    const x = e.clientX - r.left;
    this.tip.style.left = `${Math.min(Math.max(0, x + 12), r.width - this.tip.offsetWidth)}px`;
    this.tip.style.top = `${LANE + GAP + STOPS + AXIS + 4}px`;
  }
}
