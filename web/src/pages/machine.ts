// A machine's page: its state now, the timeline of the shift or the day with the reasons of its
// stops, trends of its tags over the historian, OEE with its components and losses, the downtime
// Pareto, its alarms and its stops. The header follows the live machine states every second;
// the window's documents are read again every five seconds (the timeline every two).
import { STATES, api, live, plant, poll, watchedSince, type LiveEvent, type Machine, type OeeDoc, type Plant, type PlantMachine, type ReasonRow, type Stop, type TagValue } from '../api';
import { TimelineChart, type TlInterval, type TlStop } from '../charts/timeline';
import { SPANS, Trend, type TrendTag } from '../charts/trend';
import { h, text } from '../dom';
import { clock, dayHm, dur, hm, iso, midnight, num, parseTime, pct, reasonLabel, stateLabel, when } from '../format';
import { alarmSpells, jobLine, partsAgainstTarget, whyLine } from '../model';
import { lossBars, paretoBars, statePill } from '../widgets';

type WindowKind = 'shift' | 'day' | '24h';

export function mountMachine(root: HTMLElement, name: string, params: URLSearchParams): () => void {
  const stops: (() => void)[] = [];
  let tz = 'UTC';
  let pl: Plant | null = null;
  let pm: PlantMachine | undefined;
  let machine: Machine | null = null;
  let receivedAt = 0;
  let tags = new Map<string, TagValue>();
  let windowKind: WindowKind = (params.get('window') as WindowKind) || 'shift';
  let watchedFrom: number | null = null; // when gemba's record begins, if today (api.watchedSince)

  // ---- header ----
  const title = h('h1', null, name);
  const pill = h('span.pill.st-disconnected', { 'data-state': 'unknown' }, '…');
  const since = h('b.num');
  const why = h('span');
  const job = h('b');
  const kind = h('span.muted');
  const picker = h('select', { 'aria-label': 'machine' });
  picker.addEventListener('change', () => { location.hash = `#/machines/${encodeURIComponent(picker.value)}`; });
  const head = h('div.mhead', null, title, pill, h('span.kv', null, h('span', null, 'for ', since), why, h('span', null, 'job ', job)), kind,
    h('span.spacer'), h('a.btn', { href: `#/operator/${encodeURIComponent(name)}` }, 'Operator view'), picker);

  // ---- window ----
  const winBtns = (['shift', 'day', '24h'] as WindowKind[]).map((k) =>
    h('button.btn', { type: 'button', 'aria-pressed': String(k === windowKind), onclick: () => setWindowKind(k) },
      k === 'shift' ? 'This shift' : k === 'day' ? 'Today' : 'Last 24 h'));
  const winLabel = h('span.muted');
  const winBar = h('div.toolbar', null, h('div.seg', null, ...winBtns), winLabel);

  // ---- timeline ----
  const tlHost = h('div');
  const legend = h('div.legend');
  const timelinePanel = h('section.panel', { 'aria-label': 'timeline' }, h('header', null, h('h2', null, 'State timeline'),
    h('span.muted', null, 'hover for the rule behind a state and the reason of a stop; dashed: waiting for a reason')), tlHost, legend);

  // ---- trend ----
  const chips = h('div.chips');
  const spanBtns = h('div.seg');
  const liveBtn = h('button.btn', { type: 'button', title: 'follow now' }, 'Live');
  const trendHost = h('div');
  const trendPanel = h('section.panel.trend', { 'aria-label': 'trends' },
    h('header', null, h('h2', null, 'Trends'), h('span.muted', null, 'drag to zoom · wheel or pinch · shift+drag or swipe to pan · double-click: last hour')),
    chips,
    h('div.toolbar', null, spanBtns,
      h('button.btn', { type: 'button', title: 'back', 'aria-label': 'back', onclick: () => trend?.pan(-0.5) }, '◀'),
      h('button.btn', { type: 'button', title: 'forward', 'aria-label': 'forward', onclick: () => trend?.pan(0.5) }, '▶'), liveBtn),
    trendHost);

  // ---- OEE, Pareto, alarms, stops ----
  const oeeBody = h('div');
  const paretoBody = h('div');
  const alarmsBody = h('div');
  const stopsBody = h('div.scroll');
  const grid = h('div.grid2', null,
    h('section.panel', { 'aria-label': 'OEE' }, h('header', null, h('h2', null, 'OEE'), h('span.muted', null, 'ISO 22400-2; losses as the six big losses')), oeeBody),
    h('section.panel', { 'aria-label': 'downtime Pareto' }, h('header', null, h('h2', null, 'Downtime by reason')), paretoBody),
    h('section.panel', { 'aria-label': 'alarms' }, h('header', null, h('h2', null, 'Alarms')), alarmsBody),
    h('section.panel', { 'aria-label': 'stops' }, h('header', null, h('h2', null, 'Stops'), h('span.muted', null, 'downtime events, newest first; micro-stops count as speed loss')), stopsBody));

  root.append(head, winBar, timelinePanel, trendPanel, grid);

  let timeline: TimelineChart | null = null;
  let trend: Trend | null = null;
  let intervals: TlInterval[] = [];
  let stopList: Stop[] = [];

  // The shift as the board counts it: from its start, or from when gemba started watching if
  // later (this_shift.from), so the page and the board show the same numbers.
  function win(): { from: number; to: number } {
    const now = Date.now();
    if (windowKind === 'shift' && machine?.this_shift) return { from: parseTime(machine.this_shift.from), to: now };
    const from = windowKind === '24h' ? now - 86400_000 : midnight(now, tz);
    return { from: watchedFrom && watchedFrom > from ? watchedFrom : from, to: now };
  }

  function setWindowKind(k: WindowKind) {
    windowKind = k;
    winBtns.forEach((b, i) => b.setAttribute('aria-pressed', String(['shift', 'day', '24h'][i] === k)));
    intervals = [];
    refreshAll();
  }

  const values = () => new Map([...tags].map(([n, t]) => [n, t.value]));

  function renderHeader() {
    if (!machine) return;
    statePill(pill, since, machine, receivedAt);
    text(why, whyLine(machine, values()));
    text(job, jobLine(pm, values()) ?? '–');
  }

  function drawTimeline() {
    const w = win();
    const data: TlStop[] = stopList.filter((s) => !s.micro).map((s) => ({
      start: parseTime(s.start), end: parseTime(s.end), reason: s.reason, reason_by: s.reason_by, state: s.state,
      planned: !!s.reason && s.reason.startsWith('planned'),
    }));
    timeline?.set({ from: w.from, to: w.to, intervals, stops: data });
    const totals = new Map<string, number>();
    for (const iv of intervals) {
      const a = Math.max(iv.start, w.from), b = Math.min(iv.end, w.to);
      if (b > a) totals.set(iv.state, (totals.get(iv.state) ?? 0) + (b - a));
    }
    const all = [...totals.values()].reduce((a, b) => a + b, 0);
    legend.replaceChildren(...STATES.filter((s) => totals.has(s)).map((s) =>
      h('span', null, h('span.sw', { class: `st-${s}` }), `${stateLabel(s)} ${dur(totals.get(s)! / 1000)} (${pct(totals.get(s)! / all, 0)})`)));
    text(winLabel, `${dayHm(w.from, tz)} – ${hm(w.to, tz)}`);
  }

  // The timeline is read incrementally, from the start of the last (still open) interval on,
  // and whole once a minute: a late sample can change the past (docs/oee.md).
  let lastFull = 0;
  async function loadTimeline(signal: AbortSignal) {
    const w = win();
    const full = !intervals.length || Date.now() - lastFull > 60_000;
    const from = full ? w.from : Math.max(w.from, intervals[intervals.length - 1].start);
    const doc = await api.timeline(name, { from: iso(from), to: iso(w.to) }, signal);
    const fresh = doc.intervals.map((i) => ({ start: parseTime(i.start), end: parseTime(i.end), state: i.state, rule: i.rule }));
    intervals = (full ? [] : intervals.filter((i) => i.start < from && i.end > w.from)).concat(fresh);
    if (full) lastFull = Date.now();
    drawTimeline();
  }

  async function loadWindowDocs(signal: AbortSignal) {
    watchedFrom = await watchedSince(midnight(Date.now(), tz), pm?.path);
    const w = win();
    const range = { from: iso(w.from), to: iso(w.to) };
    const asset = pm?.path ?? name;
    const [st, oee, reasons] = await Promise.all([
      api.stops(name, range, signal),
      api.oee({ ...range, asset, by: 'machine' }, signal),
      api.oee<ReasonRow>({ ...range, asset, by: 'reason' }, signal),
    ]);
    stopList = st.stops;
    drawTimeline();
    renderOee(oee);
    renderPareto(reasons);
    renderStops();
    await loadAlarms(signal, w);
  }

  function renderOee(doc: OeeDoc) {
    const k = doc.rows[0] ?? doc.total;
    const kpi = (label: string, v: number | null) => {
      const fill = h('i');
      fill.style.width = `${Math.min(100, Math.max(0, (v ?? 0) * 100))}%`;
      return h('div.kpi', { 'data-kpi': label }, h('div.k', null, label), h('div.v', null, pct(v)), h('div.meter', null, fill));
    };
    const parts = machine ? partsAgainstTarget(machine, pm, values()) : null;
    const c = k.counts ?? {}, t = k.times_s ?? {};
    oeeBody.replaceChildren(
      h('div.kpis', null, kpi('OEE', k.oee), kpi('Availability', k.availability), kpi('Performance', k.effectiveness), kpi('Quality', k.quality_ratio)),
      h('table.data.kv2', null, h('tbody', null,
        h('tr', null, h('td', null, 'Produced / good / scrap'), h('td', null, `${num(c.produced)} / ${num(c.good)} / ${num(c.scrap)}`)),
        windowKind === 'shift' && parts?.target !== null && parts ? h('tr', null, h('td', null, 'Target so far (planned busy time ÷ ideal cycle)'), h('td', null, num(parts.target))) : null,
        h('tr', null, h('td', null, 'Planned busy time · production time'), h('td', null, `${dur(t.pbt)} · ${dur(t.apt)}`)),
        h('tr', null, h('td', null, 'Setup · down · idle'), h('td', null, `${dur(t.aust)} · ${dur(t.adet)} · ${dur(t.adot)}`)),
        h('tr', null, h('td', null, 'Stops · failures · micro-stops'), h('td', null, `${num(c.stops)} · ${num(c.failures)} · ${num(c.micro_stops)}`)),
        h('tr', null, h('td', null, 'MTBF · MTTR'), h('td', null, `${dur(k.mtbf_s)} · ${dur(k.mttr_s)}`)))),
      h('h3', null, 'Losses of planned busy time'), lossBars(k));
  }

  function renderPareto(doc: OeeDoc<ReasonRow>) {
    paretoBody.replaceChildren(paretoBars(doc.rows, 'No downtime in this window.'));
  }

  function renderStops() {
    const list = stopList.filter((s) => !s.micro).slice().reverse().slice(0, 100);
    if (!list.length) { stopsBody.replaceChildren(h('p.empty', null, 'No downtime events in this window.')); return; }
    stopsBody.replaceChildren(h('table.data', null,
      h('thead', null, h('tr', null, h('th', null, 'Start'), h('th', null, 'Length'), h('th.l', null, 'State · rule'), h('th.l', null, 'Reason'))),
      h('tbody', null, ...list.map((s) => h('tr', { 'data-stop': s.start },
        h('td', null, when(parseTime(s.start), tz)), h('td', null, dur(s.seconds)),
        h('td.l', null, `${stateLabel(s.state)} · ${s.rule}`),
        h('td.l', null, s.reason ? `${reasonLabel(s.reason)}${s.reason_by ? ` (${s.reason_by})` : ''}` : h('a', { href: `#/operator/${encodeURIComponent(name)}` }, 'waiting for a reason')))))));
  }

  async function loadAlarms(signal: AbortSignal, w: { from: number; to: number }) {
    const alarmTag = tags.get('alarm');
    if (!alarmTag) { alarmsBody.replaceChildren(h('p.empty', null, 'This machine has no alarm tag.')); return; }
    let points: [number, string][] = [];
    try {
      const q = await api.query({ tag: [alarmTag.path], from: iso(w.from), to: iso(w.to) }, signal);
      points = (q.series[0]?.points ?? []).map(([t, v]) => [parseTime(t), typeof v === 'string' ? v : '']);
    } catch (e) {
      if ((e as { status?: number }).status !== 404) throw e;
    }
    const spells = alarmSpells(points);
    if (!spells.length) { alarmsBody.replaceChildren(h('p.empty', null, 'No alarms in this window.')); return; }
    const counts = new Map<string, { n: number; s: number }>();
    for (const a of spells) {
      const c = counts.get(a.text) ?? { n: 0, s: 0 };
      c.n++; c.s += ((a.end ?? w.to) - a.start) / 1000;
      counts.set(a.text, c);
    }
    alarmsBody.replaceChildren(
      h('div.hbars', null, ...[...counts].sort((a, b) => b[1].s - a[1].s).slice(0, 6).flatMap(([t, c]) => {
        const track = h('div.track'), bar = h('i');
        bar.style.width = `${(100 * c.s) / Math.max(...[...counts.values()].map((x) => x.s))}%`;
        track.append(bar);
        return [h('span', null, t), track, h('span.val', null, `${c.n} × · ${dur(c.s)}`)];
      })),
      h('div.scroll', null, h('table.data', null,
        h('thead', null, h('tr', null, h('th', null, 'Start'), h('th.l', null, 'Alarm'), h('th', null, 'Length'))),
        h('tbody', null, ...spells.slice(0, 100).map((a) => h('tr', null,
          h('td', null, when(a.start, tz)), h('td.l', null, a.text),
          h('td', null, a.end === null ? 'active' : dur((a.end - a.start) / 1000))))))));
  }

  // ---- trend: numeric tags of the machine, the choice remembered per machine ----
  function setupTrend() {
    trend = new Trend(trendHost, tz);
    SPANS.forEach(([label, ms]) => spanBtns.append(h('button.btn', { type: 'button', onclick: () => trend!.setSpan(ms) }, label)));
    liveBtn.addEventListener('click', () => trend!.setSpan(trend!.window.to - trend!.window.from));
    trend.onWindow = (_f, _t, follow) => liveBtn.setAttribute('aria-pressed', String(follow));
    const numeric = [...tags.values()].filter((t) => t.type !== 'string' && !t.name.startsWith('oee.'));
    const key = `gemba.trend.${name}`;
    let chosen: string[] = [];
    try { chosen = JSON.parse(localStorage.getItem(key) ?? '[]'); } catch { /* none */ }
    chosen = chosen.filter((n) => numeric.some((t) => t.name === n));
    if (!chosen.length) chosen = numeric.filter((t) => t.type === 'float').slice(0, 1).map((t) => t.name);
    const apply = () => {
      localStorage.setItem(key, JSON.stringify(chosen));
      const list: TrendTag[] = chosen.map((n) => tags.get(n)!).filter(Boolean).map((t) => ({ path: t.path, name: t.name, unit: t.unit ?? null }));
      trend!.setTags(list);
      for (const c of chips.querySelectorAll<HTMLButtonElement>('button')) c.setAttribute('aria-pressed', String(chosen.includes(c.dataset.tag!)));
    };
    chips.replaceChildren(...numeric.map((t) => h('button.chip', { type: 'button', 'data-tag': t.name, onclick: () => {
      chosen = chosen.includes(t.name) ? chosen.filter((n) => n !== t.name) : [...chosen, t.name].slice(-6);
      apply();
    } }, t.name)));
    if (!numeric.length) chips.append(h('span.empty', null, 'No numeric tags.'));
    apply();
    liveBtn.setAttribute('aria-pressed', 'true');
  }

  let offPoll: (() => void)[] = [];
  function refreshAll() {
    offPoll.forEach((f) => f());
    // a state change redraws the timeline and rereads the stops and OEE at once; a reason given
    // elsewhere (a downtime event) rereads the stops and Pareto. The timeline keeps its 2 s
    // rate whatever the stream does: its open interval grows with the clock.
    const mine = (types: string[]) => (evs: LiveEvent[]) => evs.some((e) => e.machine === name && types.includes(e.type));
    offPoll = [poll(loadTimeline, 2000, mine(['state']), 2000), poll(loadWindowDocs, 5000, mine(['state', 'downtime']))];
  }

  plant().then((p) => { pl = p; tz = p.timezone; pm = p.machines.find((m) => m.name === name); })
    .catch(() => {})
    .finally(() => {
      if (pl) {
        picker.replaceChildren(...pl.machines.map((m) => h('option', { value: m.name, selected: m.name === name }, m.name)));
        text(kind, [pm?.kind, pm ? `${pm.line} · ${pm.area}` : null].filter(Boolean).join(' · '));
        if (!pm) root.prepend(h('div.error-box', null, `The plant has no machine named ${name}.`));
      }
      document.title = `${name} · gemba`;
      timeline = new TimelineChart(tlHost, tz);
      let started = false;
      stops.push(live.subscribe('machines', (d, at) => {
        machine = d.machines.find((m) => m.name === name) ?? null;
        receivedAt = at;
        renderHeader();
        if (!started && tags.size) { started = true; refreshAll(); }
      }, 1000));
      stops.push(live.subscribe('tags', (d) => {
        const first = !tags.size;
        tags = new Map(d.tags.filter((t) => t.machine === name).map((t) => [t.name, t]));
        renderHeader();
        if (first) setupTrend();
        if (!started && machine) { started = true; refreshAll(); }
      }, 1000));
      const tick = window.setInterval(() => { if (machine) text(since, clock(machine.seconds_in_state + (Date.now() - receivedAt) / 1000)); }, 250);
      stops.push(() => clearInterval(tick));
    });

  return () => {
    stops.forEach((f) => f());
    offPoll.forEach((f) => f());
    timeline?.destroy();
    trend?.destroy();
  };
}
