// What the pages compute from the API's documents, kept free of the DOM so web/test/ can check
// it with node --test: targets, the reason tree as buttons, alarm spells, the trend's query step,
// Pareto shares and CSV.
import type { Kpis, Machine, OeeRow, PlantMachine, Point, Reason, Stop, TagValue } from './api';

/**
 * The planned run time per item (PRI, seconds) of a machine now: the average PRI of what it made
 * this shift (the engine's Σ PRI × PQ over PQ, exact across product changes), else the cycle
 * time of its current program or product, else its ideal cycle time; null when nothing is known.
 */
export function currentPri(m: Machine, pm: PlantMachine | undefined, tags: Map<string, TagValue['value']>): number | null {
  const k = m.this_shift;
  if (k && k.counts.produced > 0 && k.times_s.ideal > 0) return k.times_s.ideal / k.counts.produced;
  if (!pm) return null;
  if (pm.cycle_times_by) {
    const v = tags.get(pm.cycle_times_by);
    if (typeof v === 'string' && pm.cycle_times[v]) return pm.cycle_times[v];
  }
  return pm.ideal_cycle_time_s && pm.ideal_cycle_time_s > 0 ? pm.ideal_cycle_time_s : null;
}

/**
 * Parts against target this shift: produced, and what the ideal cycle time allows in the planned
 * busy time so far (PBT / PRI). Target is null when the machine has no shift now or no PRI.
 */
export function partsAgainstTarget(m: Machine, pm: PlantMachine | undefined, tags: Map<string, TagValue['value']>):
    { produced: number | null; good: number | null; target: number | null } {
  const k = m.this_shift;
  if (!k) return { produced: null, good: null, target: null };
  const pri = currentPri(m, pm, tags);
  const pbt = k.times_s.pbt ?? 0;
  return { produced: k.counts.produced ?? 0, good: k.counts.good ?? 0,
           target: pri ? Math.floor(pbt / pri + 1e-9) : null };
}

export interface ReasonGroup { label: string; reasons: { path: string; label: string }[]; }
export interface ReasonSection { planned: boolean; label: string; groups: ReasonGroup[]; }

/**
 * The plant's reason tree as an operator sees it: a section for unplanned and one for planned
 * stops; in each, the leaves (the reasons a stop can take) grouped under their branch. A leaf
 * right under the top level sits in a group without a label. Order is the plant file's.
 */
export function reasonSections(reasons: Reason[]): ReasonSection[] {
  const sections: ReasonSection[] = [];
  for (const planned of [false, true]) {
    const groups = new Map<string, ReasonGroup>();
    for (const r of reasons) {
      if (!r.leaf || r.planned !== planned) continue;
      const parts = r.path.split('/');
      const leaf = parts[parts.length - 1];
      const branch = parts.slice(1, -1).join(' › ').replace(/_/g, ' ');
      let g = groups.get(branch);
      if (!g) groups.set(branch, (g = { label: branch, reasons: [] }));
      g.reasons.push({ path: r.path, label: leaf.replace(/_/g, ' ') });
    }
    if (!groups.size) continue;
    const list = [...groups.values()];
    // single reasons first, as a row of their own
    list.sort((a, b) => Number(a.label !== '') - Number(b.label !== ''));
    sections.push({ planned, label: planned ? 'Planned' : 'Unplanned', groups: list });
  }
  // unplanned first: it is what an operator classifies most
  return sections;
}

/** Stops that wait for a person: downtime events (not micro-stops) with no reason, oldest first. */
export function waitingStops(stops: Stop[]): Stop[] {
  return stops.filter((s) => !s.micro && !s.reason);
}

export interface AlarmSpell { text: string; start: number; end: number | null; }

/**
 * Alarm spells from the points of a text alarm tag (time ms, value): a non-empty value starts an
 * alarm, another value starts the next one, an empty value ends it. An alarm still active has
 * end null. Newest first.
 */
export function alarmSpells(points: [number, string][]): AlarmSpell[] {
  const out: AlarmSpell[] = [];
  let cur: AlarmSpell | null = null;
  for (const [t, v] of points) {
    const text = v.trim();
    if (cur && text === cur.text) continue;
    if (cur) { cur.end = t; out.push(cur); cur = null; }
    if (text) cur = { text, start: t, end: null };
  }
  if (cur) out.push(cur);
  return out.reverse();
}

const STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/**
 * How to fetch a trend of SPAN_MS over WIDTH_PX pixels: raw points when a pixel spans at most a
 * second, else an aggregate whose step is the first round step of at least a pixel's time -- so a
 * week of 1 Hz data on a 1000-pixel chart is 1008 ten-minute windows, not 604,800 points. Steps
 * of whole minutes or hours let the historian answer from its rollups (docs/historian.md).
 */
export function trendStep(spanMs: number, widthPx: number): { raw: true } | { raw: false; stepS: number; step: string } {
  const perPx = spanMs / 1000 / Math.max(1, widthPx);
  if (perPx <= 1) return { raw: true };
  const stepS = STEPS_S.find((s) => s >= perPx) ?? Math.ceil(perPx / 86400) * 86400;
  const step = stepS % 3600 === 0 ? `${stepS / 3600}h` : stepS % 60 === 0 ? `${stepS / 60}m` : `${stepS}s`;
  return { raw: false, stepS, step };
}

/** MS rounded down to a multiple of STEP_S seconds since the epoch (aligned windows). */
export function alignDown(ms: number, stepS: number): number {
  const step = stepS * 1000;
  return Math.floor(ms / step) * step;
}

/** Numeric points of a series as [seconds, value] for the chart; text and NaN become gaps. */
export function numericPoints(points: Point[], parse: (s: string) => number): [number[], (number | null)[]] {
  const xs: number[] = [], ys: (number | null)[] = [];
  for (const [t, v] of points) {
    xs.push(parse(t) / 1000);
    ys.push(typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : null);
  }
  return [xs, ys];
}

export interface ParetoBar { label: string; planned: boolean | null; seconds: number; stops: number; share: number; cumulative: number; }

/** Downtime by reason, largest first, with each bar's share and the running share. */
export function pareto(rows: { reason: string; planned: boolean | null; seconds: number; stops: number }[]): ParetoBar[] {
  const sorted = rows.filter((r) => r.seconds > 0).sort((a, b) => b.seconds - a.seconds);
  const total = sorted.reduce((s, r) => s + r.seconds, 0);
  let run = 0;
  return sorted.map((r) => {
    run += r.seconds;
    return { label: r.reason, planned: r.planned, seconds: r.seconds, stops: r.stops ?? 0,
             share: total ? r.seconds / total : 0, cumulative: total ? run / total : 0 };
  });
}

/** The six big losses (Nakajima) of a KPI document as time, in the order of docs/oee.md. */
export function sixLosses(k: Kpis): { key: string; label: string; seconds: number }[] {
  const l = k.nakajima?.losses_s ?? {};
  return [
    { key: 'breakdowns', label: 'Breakdowns' },
    { key: 'setup_and_adjustments', label: 'Setup and adjustments' },
    { key: 'small_stops', label: 'Small stops' },
    { key: 'reduced_speed', label: 'Reduced speed' },
    { key: 'rejects', label: 'Rejects' },
  ].map((x) => ({ ...x, seconds: l[x.key] ?? 0 }));
}

/** RFC 4180 CSV: fields with a comma, quote or line break are quoted; null is empty. */
export function toCsv(rows: (string | number | boolean | null | undefined)[][]): string {
  const field = (v: string | number | boolean | null | undefined) => {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return Number.isFinite(v) ? String(Math.round(v * 1e6) / 1e6) : '';
    const s = String(v);
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  };
  return rows.map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
}

export const REPORT_COLUMNS = [
  'oee', 'availability', 'effectiveness', 'quality_ratio', 'produced', 'good', 'scrap',
  'planned_busy_time_s', 'downtime_s', 'stops', 'failures', 'mtbf_s', 'mttr_s',
] as const;

/** One report row's numbers, in REPORT_COLUMNS order. Downtime is ADET + ADOT (unplanned stops). */
export function reportValues(k: Kpis): (number | null)[] {
  const t = k.times_s ?? {}, c = k.counts ?? {};
  return [k.oee, k.availability, k.effectiveness, k.quality_ratio, c.produced ?? null, c.good ?? null,
          c.scrap ?? null, t.pbt ?? null, (t.adet ?? 0) + (t.adot ?? 0), c.stops ?? null,
          c.failures ?? null, k.mtbf_s, k.mttr_s];
}

/** The label of a report row the API grouped by BY (machine, shift, day, ...). */
export function rowLabel(r: OeeRow, by: string): string {
  const v = (r as unknown as Record<string, unknown>)[by];
  return typeof v === 'string' ? v : '';
}

/** Why a machine is in its state, in a few words: its alarm when it stands, else the rule. */
export function whyLine(m: Machine, tags: Map<string, TagValue['value']>): string {
  const alarm = tags.get('alarm');
  return (m.state === 'down' || m.state === 'idle') && typeof alarm === 'string' && alarm ? alarm : m.rule;
}

/** The current job and program ("shaft-b-000001 · O1020"), or null when neither is known. */
export function jobLine(pm: PlantMachine | undefined, tags: Map<string, TagValue['value']>): string | null {
  const bits = [tags.get(pm?.job_tag ?? 'job'), tags.get('program')].filter((v) => typeof v === 'string' && v) as string[];
  return bits.length ? bits.join(' · ') : null;
}
