// The andon board: every machine as a tile in its state's colour, grouped by line, with time in
// state, why (the alarm, or the rule that set the state), the current job, parts against target
// and this shift's OEE. Machine states come every second; tag values (job, program, alarm) every
// two. A full-screen button (or #/?tv) gives the TV layout: no chrome, type sized to the screen.
import { api, live, plant, type Machine, type MachinesDoc, type Plant, type PlantMachine, type TagsDoc, type TagValue } from '../api';
import { attr, h, text } from '../dom';
import { clock, hm, parseTime, pct, stateLabel, zoned } from '../format';
import { jobLine, partsAgainstTarget, whyLine } from '../model';

interface Tile {
  el: HTMLAnchorElement;
  state: HTMLElement;
  since: HTMLElement;
  why: HTMLElement;
  job: HTMLElement;
  parts: HTMLElement;
  bar: HTMLElement;
  oee: HTMLElement;
  abc: HTMLElement;
  m: Machine | null;
  receivedAt: number;
}

export function mountBoard(root: HTMLElement, params: URLSearchParams): () => void {
  const tvWanted = params.has('tv');
  const board = h('div.board');
  const title = h('h1', null, 'gemba');
  const desc = h('span.muted');
  const shift = h('span.shift');
  const clk = h('span.clock');
  const fsBtn = h('button.btn', { type: 'button', title: 'Full screen for a TV (Esc leaves)' }, 'Full screen');
  const banner = h('div.banner', { role: 'alert', hidden: true });
  const lines = h('div.lines');
  board.append(h('div.board-head', null, title, desc, shift, clk, fsBtn), banner, lines);
  root.append(board);

  let tz = 'UTC';
  let pl: Plant | null = null;
  const byName = new Map<string, PlantMachine>();
  const tiles = new Map<string, Tile>();
  const lineKpi = new Map<string, HTMLElement>();
  const tagValues = new Map<string, Map<string, TagValue['value']>>();
  let lastDoc: MachinesDoc | null = null;
  let shiftStart: string | null = null;

  const setTv = (on: boolean) => {
    board.classList.toggle('tv', on);
    document.body.classList.toggle('tv', on);
    fsBtn.textContent = on ? 'Leave full screen' : 'Full screen';
    requestAnimationFrame(fit);
  };
  window.addEventListener('resize', fit);
  setTv(tvWanted);
  fsBtn.addEventListener('click', async () => {
    if (document.fullscreenElement || board.classList.contains('tv')) {
      if (document.fullscreenElement) await document.exitFullscreen().catch(() => {});
      setTv(false);
    } else {
      setTv(true);
      await document.documentElement.requestFullscreen?.().catch(() => { /* the TV layout alone */ });
    }
  });
  const onFs = () => { if (!document.fullscreenElement && !tvWanted) setTv(false); };
  document.addEventListener('fullscreenchange', onFs);

  function makeTile(name: string): Tile {
    const pm = byName.get(name);
    const state = h('b', null, '…'), since = h('span.t-since');
    const why = h('div.t-why'), job = h('div.t-job');
    const parts = h('span.v'), bar = h('i'), oee = h('span.v'), abc = h('div.t-abc');
    const el = h('a.tile.st-disconnected', { href: `#/machines/${encodeURIComponent(name)}`, 'data-machine': name, 'data-state': 'unknown' },
      h('div.t-head', null, h('span.t-name', null, name), h('span.t-kind', null, pm?.kind ?? '')),
      h('div.t-state', null, state, since), why, job,
      h('div.t-row', null, h('span.k', null, 'Parts / target'), parts),
      h('div.bar', null, bar),
      h('div.t-row', null, h('span.k', null, 'OEE this shift'), oee), abc);
    return { el, state, since, why, job, parts, bar, oee, abc, m: null, receivedAt: 0 };
  }

  /** Lines in the plant file's order; machines the plant does not list go under their line. */
  function layout(doc: MachinesDoc) {
    const groups: { key: string; name: string; desc: string; path: string | null; machines: string[] }[] = [];
    if (pl) {
      for (const a of pl.areas)
        for (const l of a.lines) groups.push({ key: `${a.name}/${l.name}`, name: l.name, desc: l.description ?? a.name, path: l.path, machines: [...l.machines] });
    }
    for (const m of doc.machines) {
      if (groups.some((g) => g.machines.includes(m.name))) continue;
      let g = groups.find((x) => x.key === `${m.area}/${m.line}`);
      if (!g) groups.push((g = { key: `${m.area}/${m.line}`, name: m.line, desc: m.area, path: null, machines: [] }));
      g.machines.push(m.name);
    }
    lines.replaceChildren();
    lineKpi.clear();
    for (const g of groups) {
      const kpi = h('span.line-kpi');
      lineKpi.set(g.path ?? g.name, kpi);
      const grid = h('div.tiles');
      for (const name of g.machines) {
        let t = tiles.get(name);
        if (!t) tiles.set(name, (t = makeTile(name)));
        grid.append(t.el);
      }
      lines.append(h('section.line-block', { 'data-line': g.name },
        h('h2', null, g.name, h('small', null, g.desc), kpi), grid));
    }
    requestAnimationFrame(fit);
  }

  function render(t: Tile, now: number) {
    const m = t.m;
    if (!m) return;
    const pm = byName.get(m.name);
    const tags = tagValues.get(m.name) ?? new Map();
    t.el.className = `tile st-${m.state}`;
    attr(t.el, 'data-state', m.state);
    text(t.state, stateLabel(m.state));
    text(t.since, clock(m.seconds_in_state + (now - t.receivedAt) / 1000));
    const noData = m.state === 'disconnected' && tags.size > 0 && [...tags.values()].every((v) => v === null);
    t.el.classList.toggle('no-data', noData);
    text(t.why, noData ? 'no data yet' : whyLine(m, tags));
    text(t.job, jobLine(pm, tags) ?? 'no job');
    const k = m.this_shift;
    if (!k) {
      text(t.parts, 'no shift');
      t.bar.style.width = '0';
      text(t.oee, '–');
      text(t.abc, '');
      return;
    }
    const p = partsAgainstTarget(m, pm, tags);
    t.parts.replaceChildren(String(p.produced ?? 0), h('small', null, ` / ${p.target ?? '–'}`));
    t.bar.style.width = p.target ? `${Math.min(100, (100 * (p.produced ?? 0)) / p.target)}%` : '0';
    text(t.oee, pct(k.oee, 0));
    text(t.abc, `A ${pct(k.availability, 0)} · P ${pct(k.effectiveness, 0)} · Q ${pct(k.quality_ratio, 0)}`);
  }

  function onMachines(doc: MachinesDoc, at: number) {
    const names = doc.machines.map((m) => m.name).join();
    if (!lastDoc || lastDoc.machines.map((m) => m.name).join() !== names) layout(doc);
    lastDoc = doc;
    for (const m of doc.machines) {
      const t = tiles.get(m.name);
      if (!t) continue;
      t.m = m;
      t.receivedAt = at;
      render(t, at);
    }
    const k = doc.machines.find((m) => m.this_shift)?.this_shift;
    shiftStart = k?.from ?? null;
    const brk = k ? currentBreak(k.shift, at) : null;
    shift.classList.toggle('on-break', !!brk);
    text(shift, !k ? 'no shift now' : `${k.shift} shift since ${hm(parseTime(k.shift_start), tz)}` + (brk ? ` · ${brk}` : ''));
  }

  /** "lunch until 12:30" when the plant's calendar has shift SHIFT on a break at AT. */
  function currentBreak(name: string, at: number): string | null {
    const z = zoned(at, tz);
    const now = z.h * 60 + z.mi;
    for (const b of pl?.shifts.find((s) => s.name === name)?.breaks ?? []) {
      const [hh, mm] = b.start.split(':').map(Number);
      const start = hh * 60 + mm, len = b.duration_s / 60;
      const into = (now - start + 1440) % 1440;
      if (into < len) {
        const end = (start + len) % 1440;
        return `${b.name.replace(/_/g, ' ')} until ${String(Math.floor(end / 60)).padStart(2, '0')}:${String(Math.floor(end % 60)).padStart(2, '0')}`;
      }
    }
    return null;
  }

  /** The TV layout: the largest type at which every line fits the screen, whatever their number. */
  function fit() {
    if (!board.classList.contains('tv')) { board.style.fontSize = ''; return; }
    let lo = 8, hi = 64;
    for (let i = 0; i < 9; i++) {
      const mid = (lo + hi) / 2;
      board.style.fontSize = `${mid}px`;
      const fits = board.getBoundingClientRect().bottom <= window.innerHeight - 8 && board.scrollWidth <= board.clientWidth + 1;
      if (fits) lo = mid; else hi = mid;
    }
    board.style.fontSize = `${lo}px`;
  }

  function onTags(doc: TagsDoc) {
    tagValues.clear();
    for (const t of doc.tags) {
      let m = tagValues.get(t.machine);
      if (!m) tagValues.set(t.machine, (m = new Map()));
      m.set(t.name, t.value);
    }
    const now = Date.now();
    for (const t of tiles.values()) render(t, now);
  }

  // a line's OEE is the API's roll-up of its machines (times and counts summed, never an average)
  async function lineKpis() {
    if (!pl || !shiftStart) return;
    for (const [key, el] of lineKpi) {
      try {
        const r = await api.oee({ asset: key, from: shiftStart, by: 'machine' });
        text(el, `OEE ${pct(r.total.oee, 0)} · ${r.total.counts.good ?? 0} good`);
      } catch { text(el, ''); }
    }
  }

  const ticker = window.setInterval(() => {
    const now = Date.now();
    text(clk, hm(now, tz, true));
    for (const t of tiles.values()) if (t.m) text(t.since, clock(t.m.seconds_in_state + (now - t.receivedAt) / 1000));
    const s = live.status;
    const stale = !s.ok && s.lastOk > 0 && now - s.lastOk > 3000;
    board.classList.toggle('stale', stale);
    banner.hidden = !stale;
    if (stale) text(banner, `No answer from gemba for ${Math.round((now - s.lastOk) / 1000)} s: the tiles show the last known state.`);
  }, 250);
  const kpiTimer = window.setInterval(() => { lineKpis(); fit(); }, 10000);

  let offMachines = () => {}, offTags = () => {};
  plant().then((p) => {
    pl = p;
    tz = p.timezone;
    text(clk, hm(Date.now(), tz, true)); // not blank until the ticker's first beat
    for (const m of p.machines) byName.set(m.name, m);
    text(title, p.site);
    text(desc, (p.description ?? '') + (p.demo ? ' · demo plant' : ''));
    document.title = `${p.site} · gemba`;
  }).catch(() => { /* an older server: group by the lines /machines names */ }).finally(() => {
    offMachines = live.subscribe('machines', (d, at) => {
      const first = !lastDoc;
      onMachines(d, at);
      if (first) lineKpis();
    }, 1000);
    let fitted = false;
    offTags = live.subscribe('tags', (d) => { onTags(d); if (!fitted) { fitted = true; requestAnimationFrame(fit); } }, 2000);
  });

  return () => {
    offMachines();
    offTags();
    clearInterval(ticker);
    clearInterval(kpiTimer);
    document.removeEventListener('fullscreenchange', onFs);
    window.removeEventListener('resize', fit);
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    document.body.classList.remove('tv');
  };
}
