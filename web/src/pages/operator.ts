// The operator view, for a tablet at the machine: its state, job and counts; the stops of the last
// 24 hours that wait for a reason, classified with one tap on a button of the plant's reason
// tree (the newest waiting stop is already chosen); scrap entry. Buttons are at least 64 px high
// and nothing needs a keyboard. Changes are the signed-in user's: a viewer sees the buttons
// disabled, with a note saying why.
import { ApiError, api, atLeast, live, plant, poll, session, type Machine, type Plant, type PlantMachine, type Role, type Stop, type TagValue } from '../api';
import { h, text, toast } from '../dom';
import { clock, dur, hm, iso, parseTime, pct, reasonLabel, stateLabel, when } from '../format';
import { partsAgainstTarget, reasonSections, waitingStops, whyLine } from '../model';
import { statePill } from '../widgets';

function chooser(root: HTMLElement): () => void {
  const grid = h('div');
  root.append(h('div.op', null, h('div.op-head', null, h('h1', null, 'Which machine?')), grid));
  let pl: Plant | null = null;
  const links = new Map<string, HTMLAnchorElement>();
  plant().then((p) => {
    pl = p;
    for (const a of p.areas) for (const l of a.lines) {
      grid.append(h('h2', null, `${l.name}`, h('span.muted', null, ` ${l.description ?? a.name}`)));
      grid.append(h('div.machine-buttons', null, ...l.machines.map((m) => {
        const small = h('small', null, '');
        const el = h('a.st-disconnected', { href: `#/operator/${encodeURIComponent(m)}`, 'data-machine': m }, m, small);
        links.set(m, el);
        return el;
      })));
    }
  }).catch((e) => grid.append(h('div.error-box', null, `Cannot read the plant: ${(e as Error).message}`)));
  const off = live.subscribe('machines', (d) => {
    if (!pl) return;
    for (const m of d.machines) {
      const a = links.get(m.name);
      if (!a) continue;
      a.className = `st-${m.state}`;
      text(a.querySelector('small')!, stateLabel(m.state));
    }
  });
  return off;
}

export function mountOperator(root: HTMLElement, name: string | null): () => void {
  if (!name) return chooser(root);
  const offs: (() => void)[] = [];
  let tz = 'UTC';
  let pm: PlantMachine | undefined;
  let machine: Machine | null = null;
  let receivedAt = 0;
  let tags = new Map<string, TagValue['value']>();
  let stops: Stop[] = [];
  let selected: string | null = null;
  let busy = false;

  const pill = h('span.pill.st-disconnected', { 'data-state': 'unknown' }, '…');
  const since = h('span.since');
  const why = h('span.muted');
  const facts = h('div.facts');
  const authSlot = h('div');
  const waitingHead = h('h2', null, 'Waiting for a reason');
  const waitingList = h('div', { 'aria-label': 'stops waiting for a reason' });
  const doneList = h('div', { 'aria-label': 'classified stops' });
  const forWhich = h('p.muted');
  const reasonsBox = h('div.reasons');
  const count = h('output', { 'aria-label': 'scrap count' }, '1');
  let scrapN = 1;
  const setN = (n: number) => { scrapN = Math.max(1, Math.min(999, n)); count.textContent = String(scrapN); recordBtn.textContent = `Record ${scrapN} scrapped part${scrapN === 1 ? '' : 's'}`; };
  const recordBtn = h('button.btn.primary', { type: 'button', onclick: () => recordScrap() }, 'Record 1 scrapped part');

  root.append(h('div.op', null,
    h('div.op-head', null, h('h1', null, name), pill, since, why, h('span.spacer'),
      h('a.btn', { href: `#/machines/${encodeURIComponent(name)}` }, 'Machine page'), h('a.btn', { href: '#/operator' }, 'Other machine')),
    authSlot, facts,
    h('div.op-grid', null,
      h('section.panel', null, waitingHead, waitingList, h('h3', null, 'Classified'), doneList),
      h('div', null,
        h('section.panel', { 'aria-label': 'reasons' }, h('h2', null, 'Reason'), forWhich, reasonsBox),
        h('section.panel', { 'aria-label': 'scrap' }, h('h2', null, 'Scrap'),
          h('p.muted', null, 'Parts made this shift that are not good.'),
          h('div.stepper', null,
            h('button.btn', { type: 'button', 'aria-label': 'one less', onclick: () => setN(scrapN - 1) }, '−'), count,
            h('button.btn', { type: 'button', 'aria-label': 'one more', onclick: () => setN(scrapN + 1) }, '+'), recordBtn))))));

  // a viewer may look but not change: the buttons stay disabled, and a note says why
  let role: Role | null = null;
  let allowed = false;
  const applyRole = () => {
    allowed = atLeast(role, 'operator');
    authSlot.replaceChildren(...(role && !allowed ? [h('section.panel.role-note', { 'aria-label': 'not allowed' },
      h('p', null, `Signed in as a ${role}: only an operator, engineer or admin may classify stops and record scrap.`))] : []));
    for (const b of root.querySelectorAll<HTMLButtonElement>('.stepper button')) b.disabled = !allowed;
    renderStops(true);
  };
  session().then((s) => { role = s.role; applyRole(); }).catch(() => { /* a 401 is on its way to /login */ });

  function renderHead() {
    const m = machine;
    if (!m) return;
    statePill(pill, since, m, receivedAt);
    text(why, whyLine(m, tags));
    const k = m.this_shift;
    const p = partsAgainstTarget(m, pm, tags);
    const fact = (k: string, v: string, key: string) => h('div.fact', { 'data-fact': key }, h('div.k', null, k), h('div.v', null, v));
    const job = tags.get(pm?.job_tag ?? 'job'), prog = tags.get('program');
    facts.replaceChildren(
      fact('Job', typeof job === 'string' && job ? job : '–', 'job'),
      fact('Program', typeof prog === 'string' && prog ? prog : '–', 'program'),
      fact('Good', k ? String(k.counts.good ?? 0) : '–', 'good'),
      fact('Scrap', k ? String(k.counts.scrap ?? 0) : '–', 'scrap'),
      fact('Parts / target', k ? `${p.produced} / ${p.target ?? '–'}` : 'no shift', 'target'),
      fact('OEE this shift', k ? pct(k.oee, 0) : '–', 'oee'));
  }

  function stopCard(s: Stop, pressed: boolean, onclick?: () => void): HTMLElement {
    const t = parseTime(s.start);
    return h('button.stop-card', { type: 'button', 'data-stop': s.start, 'aria-pressed': String(pressed), onclick },
      h('div.when', null, `${when(t, tz)} · ${dur(s.seconds)}`),
      h('div.what', null, s.reason ? reasonLabel(s.reason) + (s.reason_by ? ` · by ${s.reason_by}` : '') : `${stateLabel(s.state)} · ${s.rule}`));
  }

  let shown = '';
  function renderStops(force = false) {
    const waiting = waitingStops(stops).reverse(); // newest first
    if (!waiting.some((s) => s.start === selected) && !stops.some((s) => s.start === selected && s.reason)) selected = waiting[0]?.start ?? null;
    // rebuilt only when what it shows changed: a card replaced under a finger loses the tap
    const key = [selected, busy, ...stops.filter((s) => !s.micro).map((s) => `${s.start}|${s.reason}|${s.reason_by}|${dur(s.seconds)}`)].join();
    if (key === shown && !force) return;
    shown = key;
    text(waitingHead, `Waiting for a reason (${waiting.length})`);
    waitingList.replaceChildren(...(waiting.length ? waiting.map((s) => stopCard(s, s.start === selected, () => { selected = s.start; renderStops(); }))
      : [h('p.empty', null, 'Nothing waits: every stop has a reason.')]));
    const done = stops.filter((s) => !s.micro && s.reason).reverse().slice(0, 6);
    doneList.replaceChildren(...(done.length ? done.map((s) => stopCard(s, s.start === selected, () => { selected = s.start; renderStops(); }))
      : [h('p.empty', null, 'None yet.')]));
    const sel = stops.find((s) => s.start === selected);
    text(forWhich, sel ? `For the stop at ${hm(parseTime(sel.start), tz)} (${dur(sel.seconds)}, ${stateLabel(sel.state)}): one tap classifies it.` : 'Choose a stop first.');
    for (const b of reasonsBox.querySelectorAll<HTMLButtonElement>('button')) b.disabled = !sel || busy || !allowed;
  }

  async function classify(reason: string) {
    const stop = stops.find((s) => s.start === selected);
    if (!stop || busy || !allowed) return;
    busy = true;
    renderStops();
    try {
      await api.setReason(name!, stop.start, reason);
      toast(`${name}: stop at ${hm(parseTime(stop.start), tz)} is now ${reasonLabel(reason)}`);
      stop.reason = reason;
      stop.reason_by = 'you';
      selected = null;
    } catch (e) {
      if (e instanceof ApiError && e.forbidden) { role = 'viewer'; applyRole(); }
      toast(`Not classified: ${(e as Error).message}`, 'error', 8000);
    } finally {
      busy = false;
      renderStops();
      refreshStops();
    }
  }

  async function recordScrap() {
    const n = scrapN;
    if (!allowed) return;
    recordBtn.disabled = true;
    try {
      await api.scrap(name!, n);
      toast(`${name}: ${n} scrapped part${n === 1 ? '' : 's'} recorded`);
      setN(1);
    } catch (e) {
      if (e instanceof ApiError && e.forbidden) { role = 'viewer'; applyRole(); }
      toast(`Scrap not recorded: ${(e as Error).message}`, 'error', 8000);
    } finally {
      recordBtn.disabled = !allowed;
    }
  }

  let refreshStops = () => {};
  plant().then((p) => {
    tz = p.timezone;
    pm = p.machines.find((m) => m.name === name);
    if (!pm) root.prepend(h('div.error-box', null, `The plant has no machine named ${name}.`));
    for (const s of reasonSections(p.reasons)) {
      reasonsBox.append(h('div.section', { 'data-section': s.planned ? 'planned' : 'unplanned' }, h('h3', null, s.label),
        ...s.groups.map((g) => h('div.group', null, g.label ? h('span', null, g.label) : null,
          h('div.buttons', null, ...g.reasons.map((r) => h('button.reason-btn', { type: 'button', class: s.planned ? 'planned' : 'unplanned',
            'data-reason': r.path, title: r.path, onclick: () => classify(r.path) }, r.label)))))));
    }
    if (!p.reasons.length) reasonsBox.append(h('p.empty', null, 'The plant file defines no reasons.'));
    renderStops(true);
  }).catch((e) => reasonsBox.append(h('div.error-box', null, `Cannot read the reasons: ${(e as Error).message}`)))
    .finally(() => {
      document.title = `${name} · operator · gemba`;
      offs.push(live.subscribe('machines', (d, at) => { machine = d.machines.find((m) => m.name === name) ?? null; receivedAt = at; renderHead(); }, 1000));
      offs.push(live.subscribe('tags', (d) => {
        tags = new Map(d.tags.filter((t) => t.machine === name).map((t) => [t.name, t.value]));
        renderHead();
      }, 2000));
      const load = async (signal: AbortSignal) => {
        const doc = await api.stops(name!, { from: iso(Date.now() - 86400_000), to: iso(Date.now()) }, signal);
        if (busy) return;
        stops = doc.stops;
        renderStops();
      };
      // a new stop starts or ends with a state event, a reason comes with a downtime event
      const mine = (evs: { type: string; machine: string | null }[]) => evs.some((e) => e.machine === name && e.type !== 'count');
      let off = poll(load, 2000, mine);
      refreshStops = () => { off(); off = poll(load, 2000, mine); };
      offs.push(() => off());
      const tick = window.setInterval(() => { if (machine) text(since, clock(machine.seconds_in_state + (Date.now() - receivedAt) / 1000)); }, 250);
      offs.push(() => clearInterval(tick));
    });

  return () => offs.forEach((f) => f());
}
