// Reports: OEE by machine or line, for a shift, a day or a week, broken down by shift or day;
// the loss Pareto; MTBF and MTTR; each table downloadable as CSV. Every number is the API's own
// roll-up (/api/v1/oee sums times and counts, then divides), never an average of percentages.
import { api, plant, watchedSince, type Kpis, type OeeDoc, type OeeRow, type Plant, type ReasonRow } from '../api';
import { download, h, text } from '../dom';
import { dayHm, dur, iso, localDate, midnight, num, parseTime, pct, zonedToUtc } from '../format';
import { REPORT_COLUMNS, pareto, reportValues, rowLabel, toCsv } from '../model';
import { lossBars, paretoBars } from '../widgets';

type Period = 'shift' | 'today' | 'yesterday' | 'week' | 'custom';
type Group = 'machine' | 'line';
type Split = 'none' | 'shift' | 'day';

interface Row { group: string; period: string; k: Kpis; total?: boolean; }

export function mountReports(root: HTMLElement, params: URLSearchParams): () => void {
  let period: Period = (params.get('period') as Period) || 'today';
  let group: Group = (params.get('group') as Group) || 'machine';
  let split: Split = (params.get('split') as Split) || 'none';
  let pl: Plant | null = null;
  let tz = 'UTC';
  let shiftStart: number | null = null;
  let rows: Row[] = [];
  let reasons: OeeDoc<ReasonRow> | null = null;
  let span = { from: 0, to: 0 };
  let ac: AbortController | null = null;

  const periodSel = h('select', { 'aria-label': 'period' },
    ...([['shift', 'This shift'], ['today', 'Today'], ['yesterday', 'Yesterday'], ['week', 'Last 7 days'], ['custom', 'From … to …']] as const)
      .map(([v, l]) => h('option', { value: v, selected: v === period }, l)));
  const fromIn = h('input', { type: 'datetime-local', 'aria-label': 'from' });
  const toIn = h('input', { type: 'datetime-local', 'aria-label': 'to' });
  const groupSel = h('select', { 'aria-label': 'group' }, h('option', { value: 'machine', selected: group === 'machine' }, 'by machine'),
    h('option', { value: 'line', selected: group === 'line' }, 'by line'));
  const splitSel = h('select', { 'aria-label': 'split' }, h('option', { value: 'none', selected: split === 'none' }, 'whole period'),
    h('option', { value: 'shift', selected: split === 'shift' }, 'per shift'), h('option', { value: 'day', selected: split === 'day' }, 'per day'));
  const csvBtn = h('button.btn.primary', { type: 'button', onclick: () => downloadTable(), disabled: true }, 'Download CSV');
  const paretoCsvBtn = h('button.btn', { type: 'button', onclick: () => downloadPareto(), disabled: true }, 'Download Pareto CSV');
  const status = h('span.muted', { role: 'status' });
  const tableBox = h('div.scroll');
  const paretoBox = h('div');
  const lossesBox = h('div');
  const customBox = h('span', { hidden: period !== 'custom' }, fromIn, ' – ', toIn);
  root.append(
    h('div.toolbar.report-controls', null, h('h1', null, 'Reports'), periodSel, customBox, groupSel, splitSel, csvBtn, status),
    h('section.panel', { 'aria-label': 'OEE report' }, h('header', null, h('h2', null, 'OEE'),
      h('span.muted', null, 'ISO 22400-2; downtime = unplanned stops (ADET + ADOT); MTBF and MTTR over failures')), tableBox),
    h('div.grid2', null,
      h('section.panel', { 'aria-label': 'loss Pareto' }, h('header', null, h('h2', null, 'Loss Pareto'), h('span.muted', null, 'downtime by reason'), paretoCsvBtn), paretoBox),
      h('section.panel', { 'aria-label': 'six big losses' }, h('header', null, h('h2', null, 'Six big losses'), h('span.muted', null, 'of planned busy time, whole plant')), lossesBox)));

  const onChange = () => {
    period = periodSel.value as Period;
    group = groupSel.value as Group;
    split = splitSel.value as Split;
    customBox.hidden = period !== 'custom';
    history.replaceState(null, '', `#/reports?period=${period}&group=${group}&split=${split}`);
    load();
  };
  for (const el of [periodSel, groupSel, splitSel, fromIn, toIn]) el.addEventListener('change', onChange);

  function localInput(ms: number): string {
    return `${localDate(ms, tz)}T${new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms)}`;
  }
  function fromLocalInput(v: string): number | null {
    const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(v);
    return m ? zonedToUtc(+m[1], +m[2], +m[3], +m[4], +m[5], tz) : null;
  }

  function periodWindow(): { from: number; to: number } {
    const now = Date.now();
    switch (period) {
      case 'shift': return { from: shiftStart ?? midnight(now, tz), to: now };
      case 'yesterday': return { from: midnight(now, tz, -1), to: midnight(now, tz) };
      case 'week': return { from: midnight(now, tz, -6), to: now };
      case 'custom': {
        const f = fromLocalInput(fromIn.value) ?? midnight(now, tz), t = fromLocalInput(toIn.value) ?? now;
        return t > f ? { from: f, to: t } : { from: f, to: f + 3600_000 };
      }
      default: return { from: midnight(now, tz), to: now };
    }
  }

  function splitLabel(r: OeeRow): string {
    const s = rowLabel(r, split);
    if (split !== 'shift') return s;
    // "20261122 early (2026-11-22T05:00:00Z)" -> "Sun 22 Nov 06:00 early"
    const m = /^\d{8} (.+) \((.+)\)$/.exec(s);
    return m ? `${dayHm(parseTime(m[2]), tz)} ${m[1]}` : s;
  }

  async function load() {
    ac?.abort();
    const a = (ac = new AbortController());
    span = periodWindow();
    const since = await watchedSince(midnight(Date.now(), tz), pl?.machines[0]?.path);
    if (since && span.from < since && span.to > since) span.from = since;
    const w = { from: iso(span.from), to: iso(span.to) };
    text(status, 'loading…');
    const t0 = performance.now();
    try {
      const out: Row[] = [];
      const units: { name: string; asset: string }[] = group === 'machine'
        ? (pl?.machines ?? []).map((m) => ({ name: m.name, asset: m.path }))
        : (pl?.areas ?? []).flatMap((ar) => ar.lines.map((l) => ({ name: l.name, asset: l.path ?? l.name })));
      if (group === 'machine' && split === 'none') {
        const doc = await api.oee({ ...w, by: 'machine' }, a.signal);
        for (const r of doc.rows) out.push({ group: r.machine ?? '', period: '', k: r });
        out.push({ group: 'plant', period: '', k: doc.total, total: true });
      } else {
        const docs = await Promise.all(units.map((u) => api.oee({ ...w, asset: u.asset, by: split === 'none' ? 'machine' : split }, a.signal)));
        docs.forEach((doc, i) => {
          if (split === 'none') out.push({ group: units[i].name, period: '', k: doc.total });
          else for (const r of doc.rows) out.push({ group: units[i].name, period: splitLabel(r), k: r });
        });
        const total = await api.oee({ ...w, by: split === 'none' ? 'machine' : split }, a.signal);
        if (split !== 'none') for (const r of total.rows) out.push({ group: 'plant', period: splitLabel(r), k: r, total: true });
        out.push({ group: 'plant', period: split === 'none' ? '' : 'all', k: total.total, total: true });
      }
      reasons = await api.oee<ReasonRow>({ ...w, by: 'reason' }, a.signal);
      if (a.signal.aborted) return;
      rows = out;
      render();
      text(status, `${dayHm(span.from, tz)} – ${dayHm(span.to, tz)} · ${Math.round(performance.now() - t0)} ms`);
      csvBtn.disabled = false;
      paretoCsvBtn.disabled = false;
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      text(status, `cannot load: ${(e as Error).message}`);
    }
  }

  function render() {
    const head = ['', split === 'none' ? null : split === 'shift' ? 'Shift' : 'Day', 'OEE', 'Avail.', 'Perf.', 'Quality', 'Produced', 'Good', 'Scrap', 'Planned busy', 'Downtime', 'Stops', 'Failures', 'MTBF', 'MTTR'];
    const fmtRow = (r: Row) => {
      const v = reportValues(r.k);
      return [pct(v[0]), pct(v[1]), pct(v[2]), pct(v[3]), num(v[4]), num(v[5]), num(v[6]), dur(v[7]), dur(v[8]), num(v[9]), num(v[10]), dur(v[11]), dur(v[12])];
    };
    tableBox.replaceChildren(h('table.data', { 'data-rows': String(rows.length) },
      h('thead', null, h('tr', null, h('th.l', null, group === 'machine' ? 'Machine' : 'Line'), ...head.slice(1).filter((x) => x !== null).map((c) => h('th', null, c)))),
      h('tbody', null, ...rows.map((r) => h('tr', { class: r.total ? 'total' : '', 'data-group': r.group },
        h('td', null, r.group), split === 'none' ? null : h('td.l', null, r.period), ...fmtRow(r).map((c) => h('td', null, c)))))));

    paretoBox.replaceChildren(paretoBars(reasons?.rows ?? [], 'No downtime in this period.'));
    const total = rows.find((r) => r.total && (r.period === '' || r.period === 'all'));
    if (total) lossesBox.replaceChildren(lossBars(total.k));
  }

  function stamp(): string {
    return `${localDate(span.from, tz)}_${localDate(span.to, tz)}`;
  }

  function downloadTable() {
    const header = ['from', 'to', group, ...(split === 'none' ? [] : [split]), ...REPORT_COLUMNS];
    const lines = rows.map((r) => [iso(span.from), iso(span.to), r.group, ...(split === 'none' ? [] : [r.period]), ...reportValues(r.k)]);
    download(`gemba-oee-by-${group}${split === 'none' ? '' : `-per-${split}`}_${stamp()}.csv`, toCsv([header, ...lines]));
  }

  function downloadPareto() {
    const bars = reasons ? pareto(reasons.rows) : [];
    download(`gemba-loss-pareto_${stamp()}.csv`, toCsv([['from', 'to', 'reason', 'planned', 'seconds', 'stops', 'share', 'cumulative'],
      ...bars.map((b) => [iso(span.from), iso(span.to), b.label, b.planned, b.seconds, b.stops, b.share, b.cumulative])]));
  }

  let timer = 0;
  plant().then((p) => { pl = p; tz = p.timezone; }).catch(() => {}).finally(async () => {
    try {
      const m = await api.machines();
      const k = m.machines.find((x) => x.this_shift)?.this_shift;
      shiftStart = k ? parseTime(k.from) : null;
    } catch { /* no shift known: today */ }
    const now = Date.now();
    fromIn.value = localInput(midnight(now, tz));
    toIn.value = localInput(now);
    document.title = 'Reports · gemba';
    load();
    // a report of a period that is still running keeps up with it
    timer = window.setInterval(() => { if (!document.hidden && period !== 'yesterday' && period !== 'custom') load(); }, 30000);
  });

  return () => { ac?.abort(); clearInterval(timer); };
}
