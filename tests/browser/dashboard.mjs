// The dashboard in headless Chromium (Debian's), driven by playwright-core; run by
// tests/integration/test_browser.sh, which starts the daemon:
//
//   node dashboard.mjs demo URL       the demo plant: the first admin made from the setup link
//                                     (GB_SETUP), the board filling in and changing live from the
//                                     event stream, TV, machine page, a week of trend, report CSV;
//                                     an operator and a viewer made by the admin; the operator
//                                     signs in and records scrap; the viewer may not; sign out
//   node dashboard.mjs classify URL   a plant with short stops: the operator (made with the
//                                     command line) classifies one with one tap
//   node dashboard.mjs nodata URL     a machine that has sent nothing: every page copes
//
// Environment: GB_NODE_MODULES (where npm ci put playwright-core), CHROMIUM, ART (screenshots),
// GB_TOKEN (an API token the script's own checks read the API with), GB_SETUP (demo: the setup
// link from the daemon's log), GB_OPERATOR (classify, nodata: "name:password" of an operator).
// Every check asserts what a person would see; each step prints how long it took.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.GB_NODE_MODULES, 'noop.js'));
const { chromium } = require('playwright-core');
const [mode, base] = process.argv.slice(2);
const token = process.env.GB_TOKEN;
const art = process.env.ART;
const DEMO = ['lathe01', 'lathe02', 'mill01', 'grinder01', 'press01', 'welder01', 'assembly01', 'packer01'];
const ADMIN = ['ada', 'ada-admin-pass'];
const OPERATOR = ['olga', 'olga-operator-pass'];
const VIEWER = ['vic', 'vic-viewer-pass'];
const STATES = ['running', 'idle', 'down', 'setup', 'planned_stop', 'disconnected'];

const t0 = Date.now();
let last = t0;
function step(what) {
  const now = Date.now();
  console.log(`  ${((now - t0) / 1000).toFixed(1).padStart(5)} s  ${what} (${now - last} ms)`);
  last = now;
}
async function shot(page, name) {
  const file = path.join(art, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot: ${file}`);
}
async function api(p) {
  const r = await fetch(base + p, { headers: { Authorization: `Bearer ${token}` } });
  assert.ok(r.ok, `${p}: HTTP ${r.status}`);
  return r.json();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // no sandbox as root; nothing of Chromium's own reaches for the network (there is none here)
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
});
const errors = [];
async function newContext(viewport) {
  return browser.newContext({ viewport, acceptDownloads: true, timezoneId: 'America/New_York' });
}
async function newPage(viewport, ctx) {
  ctx ??= await newContext(viewport);
  const page = await ctx.newPage();
  if (viewport) await page.setViewportSize(viewport);
  // a page opened before its sign-in gets 401s (which send it to /login); set while that is so
  page.signingIn = false;
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // a series that has no point yet is a 404 of /api/v1/query, which the trend and the alarms
    // take as "no data"; Chromium logs it all the same
    if (/status of 404/.test(m.text()) && /\/api\/v1\/query\?/.test(m.location()?.url ?? '')) return;
    if (page.signingIn && /status of 401/.test(m.text())) return;
    if (page.expectRefusal && /status of 403/.test(m.text())) return;
    errors.push(`console: ${m.text()} (${m.location()?.url})`);
  });
  page.on('requestfailed', (r) => { if (!/abort/i.test(r.failure()?.errorText ?? '')) errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`); });
  // every request stays on the daemon: no CDN, no internet
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) errors.push(`left the daemon: ${r.url()}`); });
  return page;
}

/** Opens HASH in a fresh browser as USER: the dashboard sends it to /login, and back after. */
async function signIn(user, password, hash, viewport, shotName) {
  const page = await newPage(viewport);
  page.signingIn = true;
  await page.goto(`${base}/${hash}`);
  await page.waitForURL((u) => u.pathname === '/login');
  assert.equal(new URL(page.url()).searchParams.get('next'), hash, 'the sign-in page knows where to go back to');
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  if (shotName) await shot(page, shotName);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/' && u.hash === hash);
  page.signingIn = false;
  // the header names who signed in, with the role
  await page.locator('.topbar .user b', { hasText: user }).waitFor();
  return page;
}

/** The role's session, from inside PAGE: GET /api/v1/session, as the dashboard reads it. */
const whoAmI = (page) => page.evaluate(() => fetch('/api/v1/session').then((r) => r.json()));

try {
  if (mode === 'demo') await demo();
  else if (mode === 'classify') await classify();
  else if (mode === 'nodata') await nodata();
  else throw new Error(`unknown mode ${mode}`);
  assert.deepEqual(errors, [], 'the pages logged errors');
} finally {
  await browser.close();
}
console.log(`  ${mode}: passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

async function demo() {
  // ---- the first admin, from the setup link the daemon logged ----
  const setup = process.env.GB_SETUP;
  assert.match(setup ?? '', /^http:\/\/127\.0\.0\.1:\d+\/setup\?code=[\w-]{43}$/, `setup link ${setup}`);
  const adminCtx = await newContext({ width: 1600, height: 1000 });
  const page = await newPage(null, adminCtx);
  // the board keeps the event stream open: its answer says it is one
  const streamed = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/stream');
  await page.goto(setup);
  await page.getByRole('heading', { name: 'Create the first admin' }).waitFor();
  await page.getByLabel('User name').fill(ADMIN[0]);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN[1]);
  await page.getByLabel('Password again').fill(ADMIN[1]);
  await shot(page, 'setup');
  await page.getByRole('button', { name: 'Create admin and sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/' && u.search === '');
  await page.locator('.topbar .user b', { hasText: ADMIN[0] }).waitFor();
  assert.equal(await page.textContent('.topbar .user .role'), 'admin');
  const stream = await streamed;
  assert.equal(stream.status(), 200);
  assert.match(stream.headers()['content-type'], /^text\/event-stream/);
  await page.waitForSelector('.conn[data-stream="on"]');
  step('setup: the first admin made from the logged link, signed in, on the board with the event stream open');

  // ---- the board fills in ----
  await page.waitForFunction((n) => document.querySelectorAll('.tile[data-state]:not([data-state="unknown"])').length === n, DEMO.length);
  const tiles = await page.$$eval('.tile', (els) => els.map((e) => ({ name: e.dataset.machine, state: e.dataset.state,
    line: e.closest('.line-block')?.dataset.line, text: e.innerText })));
  assert.deepEqual(tiles.map((t) => t.name), DEMO);
  assert.deepEqual(tiles.map((t) => t.line), ['line1', 'line1', 'line1', 'line1', 'line2', 'line2', 'line2', 'line2']);
  for (const t of tiles) {
    assert.ok(STATES.includes(t.state), `${t.name}: state ${t.state}`);
    assert.match(t.text, new RegExp(t.state.replace('_', ' '), 'i'), `${t.name} names its state`);
    assert.match(t.text, /PARTS \/ TARGET\s+\d+ \/ (\d+|–)/i, `${t.name} shows parts against target`);
    assert.match(t.text, /OEE THIS SHIFT/i);
  }
  // the job and program come from the machines' tags within two seconds
  await page.waitForFunction(() => [...document.querySelectorAll('.tile .t-job')].some((e) => /shaft-|housing-/.test(e.textContent)));
  // times are the plant's (Europe/Berlin), though this browser lives in New York
  const clockText = await page.$eval('.board-head .clock', (e) => e.textContent);
  const berlin = (t) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(t);
  assert.ok([berlin(Date.now()), berlin(Date.now() - 60000)].includes(clockText.slice(0, 5)), `board clock ${clockText}, Berlin ${berlin(Date.now())}`);
  step('board: 8 tiles in 2 lines, each with state, parts against target and OEE; the clock on plant time');
  await shot(page, 'board');

  // ---- a tile changes state without a reload, within a second of the stream's event ----
  // (the page polls machine states only every 10 s while the stream is up: a change that shows
  // within a second came through the stream)
  // the test's own listener opens first; the tiles are read a second later, when whatever the
  // page heard before it opened has been shown
  const before = await page.evaluate(async () => {
    window.__notReloaded = true;
    window.__events = [];
    window.__changes = [];
    const es = new EventSource('/api/v1/stream');
    es.addEventListener('state', (e) => { const d = JSON.parse(e.data); window.__events.push({ m: d.machine, s: d.state, at: performance.now() }); });
    await new Promise((ok) => { es.onopen = ok; });
    await new Promise((ok) => setTimeout(ok, 1000));
    new MutationObserver((ms) => {
      for (const m of ms) if (m.target.classList.contains('tile')) window.__changes.push({ m: m.target.dataset.machine, s: m.target.dataset.state, at: performance.now() });
    }).observe(document.body, { attributes: true, attributeFilter: ['data-state'], subtree: true });
    return Object.fromEntries([...document.querySelectorAll('.tile')].map((e) => [e.dataset.machine, e.dataset.state]));
  });
  const changed = await page.waitForFunction((b) => {
    for (const c of window.__changes) if (b[c.m] !== c.s) return c;
    return false;
  }, before, { timeout: 30000, polling: 100 });
  const ch = await changed.jsonValue();
  const ev = await page.evaluate((c) => window.__events.filter((e) => e.m === c.m && e.s === c.s)
    .map((e) => e.at).sort((x, y) => Math.abs(x - c.at) - Math.abs(y - c.at))[0] ?? null, ch);
  assert.ok(ev !== null, `no state event for ${ch.m} -> ${ch.s}`);
  const lag = Math.round(ch.at - ev);
  assert.ok(Math.abs(lag) < 1000, `the tile changed ${lag} ms after the stream's event`);
  assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was reloaded');
  step(`live: ${ch.m} ${before[ch.m]} -> ${ch.s} without a reload, ${lag} ms after the stream's event`);
  await shot(page, 'board-changed');

  // ---- without the stream, the board polls every second and still changes ----
  const cut = await newPage({ width: 1280, height: 800 }, adminCtx);
  await cut.route('**/api/v1/stream*', (r) => r.abort('aborted'));
  const polls = [];
  cut.on('request', (r) => { if (new URL(r.url()).pathname === '/api/v1/machines') polls.push(Date.now()); });
  await cut.goto(base + '/');
  await cut.waitForSelector('.tile[data-state]:not([data-state="unknown"])');
  await cut.locator('.conn[data-stream="off"]', { hasText: 'live (polling)' }).waitFor();
  const seen = await cut.$$eval('.tile', (els) => Object.fromEntries(els.map((e) => [e.dataset.machine, e.dataset.state])));
  const cutChange = await cut.waitForFunction((b) => {
    for (const e of document.querySelectorAll('.tile')) if (b[e.dataset.machine] !== e.dataset.state) return `${e.dataset.machine}: ${b[e.dataset.machine]} -> ${e.dataset.state}`;
    return false;
  }, seen, { timeout: 30000, polling: 100 });
  const span = (polls.at(-1) - polls[0]) / 1000;
  assert.ok(polls.length >= 2 && span / (polls.length - 1) < 1.6, `${polls.length} polls in ${span} s without the stream`);
  step(`no stream: the board polls (${polls.length} reads of the machines in ${span.toFixed(1)} s) and showed ${await cutChange.jsonValue()}`);
  await cut.close();

  // ---- full screen: the TV layout fits the screen ----
  const tv = await newPage({ width: 1920, height: 1080 }, adminCtx);
  await tv.goto(base + '/');
  await tv.waitForSelector('.tile[data-state]:not([data-state="unknown"])');
  await tv.getByRole('button', { name: 'Full screen' }).click();
  await tv.waitForFunction(() => document.body.classList.contains('tv'));
  await tv.waitForTimeout(300);
  const tvBox = await tv.evaluate(() => ({
    topbar: getComputedStyle(document.querySelector('.topbar')).display,
    bottom: Math.max(...[...document.querySelectorAll('.tile')].map((e) => e.getBoundingClientRect().bottom)),
    name: parseFloat(getComputedStyle(document.querySelector('.tile .t-name')).fontSize),
    state: parseFloat(getComputedStyle(document.querySelector('.tile .t-state b')).fontSize),
  }));
  assert.equal(tvBox.topbar, 'none');
  assert.ok(tvBox.bottom <= 1080, `tiles reach ${tvBox.bottom} px of 1080`);
  assert.ok(tvBox.state >= 40, `state text ${tvBox.state} px: too small for across the hall`);
  step(`TV layout: no chrome, every tile on a 1920x1080 screen, state in ${tvBox.state} px type`);
  await shot(tv, 'board-tv');
  await tv.close();

  // ---- machine page: timeline and trend drawn ----
  await page.goto(base + '/#/machines/lathe01');
  await page.waitForSelector('.mhead .pill[data-state]:not([data-state="unknown"])');
  // the lane is drawn across its width, in the colours of at least two states the machine was in
  const drawn = await page.waitForFunction(() => {
    const c = document.querySelector('.timeline-wrap canvas');
    if (!c || !c.width) return false;
    const css = getComputedStyle(document.documentElement);
    const colours = {};
    for (const s of ['running', 'idle', 'down', 'setup', 'planned_stop', 'disconnected']) {
      const hex = css.getPropertyValue(`--st-${s}`).trim();
      colours[s] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    }
    const row = c.getContext('2d').getImageData(0, Math.round(20 * (window.devicePixelRatio || 1)), c.width, 1).data;
    const seen = {};
    let drawnPx = 0;
    for (let i = 0; i < row.length; i += 4) {
      for (const [s, [r, g, b]] of Object.entries(colours)) {
        if (Math.abs(row[i] - r) + Math.abs(row[i + 1] - g) + Math.abs(row[i + 2] - b) < 12) { seen[s] = (seen[s] ?? 0) + 1; drawnPx++; break; }
      }
    }
    const live = Object.keys(seen).filter((s) => s !== 'disconnected');
    return drawnPx / (row.length / 4) > 0.9 && live.length >= 2 ? { share: drawnPx / (row.length / 4), states: Object.keys(seen) } : false;
  }, null, { timeout: 20000, polling: 200 });
  const tl = await drawn.jsonValue();
  step(`machine page: the timeline fills ${(100 * tl.share).toFixed(0)} % of its lane, in the colours of ${tl.states.join(', ')}`);
  await page.waitForFunction(() => Number(document.querySelector('.trend .plot')?.dataset.points) > 0, null, { timeout: 15000 });
  const trendPixels = await page.evaluate(() => {
    const c = document.querySelector('.trend .u-wrap canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let blue = 0; // the first series is drawn in #5aa9ff
    for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 200 && d[i] < 140 && d[i + 1] > 130) blue++;
    return blue;
  });
  assert.ok(trendPixels > 50, `the trend drew ${trendPixels} pixels of its line`);
  const oeeText = await page.$eval('section[aria-label="OEE"]', (e) => e.innerText);
  assert.match(oeeText, /Availability/);
  assert.match(oeeText, /Breakdowns/);
  step(`machine page: trend of spindle_load drawn (${trendPixels} px), OEE and losses shown`);
  await shot(page, 'machine');

  // ---- a week of 1 Hz data: aggregate per pixel when wide, raw when narrow ----
  await page.goto(base + '/#/machines/packer01');
  await page.waitForSelector('.trend .chip[data-tag="temperature"]');
  for (const c of await page.$$('.trend .chip[aria-pressed="true"]')) await c.click();
  await page.click('.trend .chip[data-tag="temperature"]');
  const weekStart = Date.now();
  await page.getByRole('button', { name: '7 d', exact: true }).click();
  const week = await page.waitForFunction(() => {
    const p = document.querySelector('.trend .plot');
    return p.dataset.step === '10m' && Number(p.dataset.points) > 900 ? { points: Number(p.dataset.points), status: p.querySelector('.status').textContent } : false;
  }, null, { timeout: 15000, polling: 20 });
  const wk = await week.jsonValue();
  const weekMs = Date.now() - weekStart;
  assert.ok(wk.points >= 1000 && wk.points <= 1010, `a week in 10-minute windows: ${wk.points}`);
  step(`trend: a week of 1 Hz temperature (604,800 points) as ${wk.points} windows of 10 min, shown ${weekMs} ms after the click (${wk.status})`);
  await shot(page, 'trend-week');
  // zoom in with the wheel until a pixel spans under a second: raw points
  const plot = await page.$('.trend .u-over');
  const box = await plot.boundingBox();
  await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2);
  for (let i = 0; i < 12; i++) await page.mouse.wheel(0, -400);
  const raw = await page.waitForFunction(() => {
    const p = document.querySelector('.trend .plot');
    return p.dataset.step === 'raw' && Number(p.dataset.points) > 0 ? p.querySelector('.status').textContent : false;
  }, null, { timeout: 15000, polling: 50 });
  step(`trend: zoomed in with the wheel to raw points (${await raw.jsonValue()})`);
  // 24 h; drag across a tenth of it to zoom there; the arrow pans back by half a window
  const trendState = () => page.$eval('.trend .plot', (p) => ({ step: p.dataset.step, points: Number(p.dataset.points),
    span: Number(p.dataset.span), to: Number(p.dataset.to) }));
  const stepS = (s) => (s === 'raw' ? 0 : parseInt(s, 10) * ({ s: 1, m: 60, h: 3600 })[s.at(-1)]);
  await page.getByRole('button', { name: '24 h', exact: true }).click();
  await page.waitForFunction(() => document.querySelector('.trend .plot').dataset.span === '86400', null, { timeout: 15000 });
  const day = await trendState();
  assert.ok(stepS(day.step) >= 30 && day.points > 500, `24 h: ${JSON.stringify(day)}`);
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => Number(document.querySelector('.trend .plot').dataset.span) < 20000, null, { timeout: 15000 });
  const zoomed = await trendState();
  assert.ok(Math.abs(zoomed.span - 8640) < 600, `a tenth of a day: ${zoomed.span} s`);
  assert.ok(stepS(zoomed.step) < stepS(day.step) && zoomed.points > 300, `finer steps when zoomed: ${JSON.stringify(zoomed)}`);
  await page.getByRole('button', { name: 'back' }).click();
  await page.waitForFunction((to) => Number(document.querySelector('.trend .plot').dataset.to) < to - 3000_000, zoomed.to, { timeout: 15000 });
  const panned = await trendState();
  assert.ok(Math.abs(zoomed.to - panned.to - zoomed.span * 500) < 5000 && panned.points > 300, `panned: ${JSON.stringify(panned)}`);
  step(`trend: 24 h in ${day.step} windows; a dragged tenth in ${zoomed.step} windows; panned back half a window`);
  await shot(page, 'trend-zoomed');

  // ---- reports: the CSV download holds what the API answered ----
  // (the page's own answer: a second request for the same window could count a part that was
  // still on its way at the first)
  const answered = page.waitForResponse((r) => /\/api\/v1\/oee\?.*by=machine/.test(r.url()) && !r.url().includes('asset='));
  await page.goto(base + '/#/reports?period=today&group=machine&split=none');
  const answer = await answered;
  const ref = await answer.json();
  await page.waitForSelector('table.data[data-rows="9"]');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  const csv = readFileSync(await download.path(), 'utf8');
  assert.match(download.suggestedFilename(), /^gemba-oee-by-machine_\d{4}-\d\d-\d\d_\d{4}-\d\d-\d\d\.csv$/);
  const lines = csv.trim().split('\r\n').map((l) => l.split(','));
  assert.deepEqual(lines[0], ['from', 'to', 'machine', 'oee', 'availability', 'effectiveness', 'quality_ratio', 'produced', 'good',
    'scrap', 'planned_busy_time_s', 'downtime_s', 'stops', 'failures', 'mtbf_s', 'mttr_s']);
  assert.deepEqual(lines.slice(1).map((l) => l[2]), [...DEMO, 'plant']);
  const [from, to] = lines[1];
  const q = new URL(answer.url()).searchParams;
  assert.deepEqual([q.get('from'), q.get('to')], [from, to], 'the CSV names the window it covers');
  const close = (a, b, what) => assert.ok(b === null ? a === '' : Math.abs(Number(a) - b) < 1e-6 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
  for (const l of lines.slice(1)) {
    const r = l[2] === 'plant' ? ref.total : ref.rows.find((x) => x.machine === l[2]);
    close(l[3], r.oee, `${l[2]} oee`);
    close(l[4], r.availability, `${l[2]} availability`);
    close(l[7], r.counts.produced, `${l[2]} produced`);
    close(l[8], r.counts.good, `${l[2]} good`);
    close(l[9], r.counts.scrap, `${l[2]} scrap`);
    close(l[10], r.times_s.pbt, `${l[2]} planned busy time`);
    close(l[11], r.times_s.adet + r.times_s.adot, `${l[2]} downtime`);
    close(l[12], r.counts.stops, `${l[2]} stops`);
  }
  // and the page shows the same numbers: the plant's produced count
  const shown = await page.$eval('tr[data-group="plant"]', (e) => e.cells[5].textContent);
  assert.equal(Number(shown.replace(/,/g, '')), ref.total.counts.produced);
  step(`reports: CSV of ${lines.length - 1} rows, the API's numbers for ${from} – ${to}`);
  await shot(page, 'reports');

  // ---- the admin makes an operator and a viewer, with the session and its CSRF token ----
  const made = await page.evaluate(async (users) => {
    const s = await fetch('/api/v1/session').then((r) => r.json());
    const out = [];
    for (const [name, password, role] of users) {
      const r = await fetch('/api/v1/users', { method: 'POST', body: JSON.stringify({ name, role, password }),
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token } });
      out.push(r.status);
    }
    return out;
  }, [[...OPERATOR, 'operator'], [...VIEWER, 'viewer']]);
  assert.deepEqual(made, [201, 201], 'users made by the admin');
  step('admin: an operator and a viewer made through the API');

  // ---- operator on a tablet: signs in, enters scrap ----
  const tab = await signIn(...OPERATOR, '#/operator/press01', { width: 1280, height: 800 }, 'login');
  assert.equal((await whoAmI(tab)).role, 'operator');
  await tab.locator('.reason-btn').first().waitFor();
  assert.equal(await tab.locator('[aria-label="not allowed"]').count(), 0, 'an operator is told they may not');
  const scrapBefore = Number(await tab.$eval('[data-fact="scrap"] .v', (e) => e.textContent).catch(() => 'NaN'));
  await tab.getByRole('button', { name: 'one more' }).click();
  await tab.getByRole('button', { name: 'one more' }).click();
  await tab.getByRole('button', { name: 'Record 3 scrapped parts' }).click();
  await tab.getByText('press01: 3 scrapped parts recorded').waitFor();
  await tab.waitForFunction((b) => Number(document.querySelector('[data-fact="scrap"] .v')?.textContent) >= b + 3, scrapBefore);
  step('operator: signed in through /login, back on press01; 3 scrapped parts recorded and counted this shift');
  await shot(tab, 'operator-scrap');

  // the operator signs in again in another tab: a new session, so the CSRF token the first tab
  // holds is stale; its next change is refused once (403 csrf), rereads the token and goes through
  // (a poll of the first tab under way as the new sign-in ends the old session is refused: 401)
  tab.signingIn = true;
  const again = await tab.context().newPage();
  await again.goto(`${base}/login`);
  await again.getByLabel('User name').fill(OPERATOR[0]);
  await again.getByLabel('Password', { exact: true }).fill(OPERATOR[1]);
  await again.getByRole('button', { name: 'Sign in' }).click();
  await again.waitForURL((u) => u.pathname === '/');
  await again.close();
  tab.signingIn = false;
  tab.expectRefusal = true;
  const csrfRefusal = tab.waitForResponse((r) => /\/scrap$/.test(r.url()) && r.status() === 403);
  await tab.getByRole('button', { name: 'Record 1 scrapped part' }).click();
  assert.equal((await (await csrfRefusal).json()).code, 'csrf');
  await tab.getByText('press01: 1 scrapped part recorded').waitFor();
  tab.expectRefusal = false;
  step('operator: signed in again elsewhere; the stale CSRF token was refused once, reread, and the scrap went through');

  // ---- a viewer may look, not change ----
  // (first, a sign-in page told to go to another site afterwards goes home instead)
  const astray = await newPage({ width: 1280, height: 800 });
  for (const next of ['https://example.com/', '//example.com/', '/\\example.com/']) {
    await astray.goto(`${base}/login?next=${encodeURIComponent(next)}`);
    await astray.getByLabel('User name').fill(VIEWER[0]);
    await astray.getByLabel('Password', { exact: true }).fill(VIEWER[1]);
    await astray.getByRole('button', { name: 'Sign in' }).click();
    await astray.waitForURL((u) => u.pathname === '/');
    assert.equal(new URL(astray.url()).origin, new URL(base).origin, `next=${next} left the site`);
  }
  await astray.context().close();
  step('viewer: a sign-in asked to go to another site afterwards (https://, //, /\\) lands on the board');
  const view = await signIn(...VIEWER, '#/operator/press01', { width: 1280, height: 800 });
  await view.locator('[aria-label="not allowed"]').getByText(/Signed in as a viewer/).waitFor();
  await view.locator('.reason-btn').first().waitFor();
  const enabled = await view.$$eval('.reason-btn, .stepper button', (bs) => bs.filter((b) => !b.disabled).map((b) => b.textContent));
  assert.deepEqual(enabled, [], 'a viewer has buttons to press');
  // and the server agrees: the viewer's session, with its CSRF token, is refused for its role
  view.expectRefusal = true;
  const refused = await view.evaluate(async () => {
    const s = await fetch('/api/v1/session').then((r) => r.json());
    const r = await fetch('/api/v1/machines/press01/scrap', { method: 'POST', body: JSON.stringify({ count: 1 }),
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token } });
    return [r.status, (await r.json()).code];
  });
  assert.deepEqual(refused, [403, 'role']);
  view.expectRefusal = false;
  step('viewer: the operator view\'s buttons are disabled with a note; the API answers 403 role');
  await shot(view, 'operator-viewer');

  // ---- sign out: the session ends, the next visit asks again ----
  view.signingIn = true; // what was under way as the session ended is refused
  await view.getByRole('button', { name: 'Sign out' }).click();
  await view.waitForURL((u) => u.pathname === '/login');
  assert.equal(await view.evaluate(() => fetch('/api/v1/session').then((r) => r.status)), 401);
  step('viewer: signed out, back on /login, the session is gone');
}

async function classify() {
  // a stop that waits for a reason, on any machine of the plant
  let target = null;
  for (let i = 0; i < 300 && !target; i++) {
    for (const m of ['m1', 'm2', 'm3']) {
      const s = await api(`/api/v1/machines/${m}/stops`);
      const w = s.stops.filter((x) => !x.micro && !x.reason);
      if (w.length) { target = { machine: m, stop: w.at(-1) }; break; }
    }
    if (!target) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(target, 'no stop waited for a reason within 60 s');
  step(`a stop waits on ${target.machine} since ${target.stop.start}`);

  const [opName, opPass] = process.env.GB_OPERATOR.split(':');
  const tab = await signIn(opName, opPass, `#/operator/${target.machine}`, { width: 1280, height: 800 });
  const card = tab.locator(`.stop-card[data-stop="${target.stop.start}"]`);
  await card.waitFor();
  // the newest waiting stop is already chosen: one tap on a reason classifies it
  await card.click();
  assert.equal(await card.getAttribute('aria-pressed'), 'true');
  await shot(tab, 'operator');
  const tap = Date.now();
  await tab.locator('.reason-btn[data-reason="unplanned/failure/tool"]').click();
  await tab.getByText(new RegExp(`${target.machine}: stop at .* is now failure › tool`)).waitFor();
  await tab.locator('[aria-label="classified stops"] .stop-card', { hasText: 'failure › tool' }).first().waitFor();
  await tab.waitForFunction((s) => !document.querySelector(`[aria-label="stops waiting for a reason"] .stop-card[data-stop="${s}"]`), target.stop.start);
  step(`operator: one tap classified it as unplanned/failure/tool (${Date.now() - tap} ms to the confirmation)`);
  await shot(tab, 'operator-classified');

  // the API holds the reason, and the OEE by reason accounts for the stop's time
  const stops = await api(`/api/v1/machines/${target.machine}/stops`);
  const s = stops.stops.find((x) => x.start === target.stop.start);
  assert.equal(s.reason, 'unplanned/failure/tool');
  assert.equal(s.reason_by, opName, 'the reason is signed by who gave it');
  const byReason = await api(`/api/v1/oee?asset=${target.machine}&by=reason`);
  const row = byReason.rows.find((r) => r.reason === 'unplanned/failure/tool');
  assert.ok(row && row.stops >= 1 && row.seconds >= s.seconds - 1e-6, `OEE by reason: ${JSON.stringify(byReason.rows)}`);

  // the machine page's Pareto shows the reason
  await tab.goto(`${base}/#/machines/${target.machine}?window=day`);
  await tab.locator('section[aria-label="downtime Pareto"] [data-reason="unplanned/failure/tool"]').waitFor({ timeout: 15000 });
  await tab.locator('section[aria-label="timeline"] canvas').waitFor();
  step('machine page: the Pareto has a bar for failure › tool');
  await shot(tab, 'machine-pareto');

  // the report's Pareto CSV carries it too
  await tab.goto(`${base}/#/reports?period=today&group=line&split=shift`);
  await tab.locator('section[aria-label="loss Pareto"] [data-reason="unplanned/failure/tool"]').waitFor({ timeout: 15000 });
  const [download] = await Promise.all([tab.waitForEvent('download'), tab.getByRole('button', { name: 'Download Pareto CSV' }).click()]);
  const csv = readFileSync(await download.path(), 'utf8');
  const line = csv.split('\r\n').find((l) => l.includes(',unplanned/failure/tool,'));
  assert.ok(line, `Pareto CSV: ${csv}`);
  assert.ok(Number(line.split(',')[4]) >= s.seconds - 1e-6, `Pareto seconds: ${line}`);
  step('reports: the loss Pareto and its CSV carry the classified stop');
  await shot(tab, 'reports-pareto');

  // a wrong reason is put right the same way: tap the classified stop, then the right reason
  await tab.goto(`${base}/#/operator/${target.machine}`);
  const done = tab.locator(`[aria-label="classified stops"] .stop-card[data-stop="${target.stop.start}"]`);
  await done.click();
  assert.equal(await done.getAttribute('aria-pressed'), 'true');
  await tab.locator('.reason-btn[data-reason="unplanned/failure/spindle"]').click();
  await tab.getByText(new RegExp(`${target.machine}: stop at .* is now failure › spindle`)).waitFor();
  const again = (await api(`/api/v1/machines/${target.machine}/stops`)).stops.find((x) => x.start === target.stop.start);
  assert.equal(again.reason, 'unplanned/failure/spindle');
  step('operator: the classified stop reclassified as failure › spindle');
}

async function nodata() {
  // a browser sent to /login a moment ago and refused again (its cookie did not take) is not
  // bounced back and forth: it stays, and the header offers the sign-in as a link
  const loop = await newPage({ width: 1280, height: 800 });
  loop.signingIn = true;
  await loop.goto(`${base}/login`); // the origin's session storage, as a redirect leaves it
  await loop.evaluate(() => sessionStorage.setItem('gemba.toLogin', String(Date.now())));
  await loop.goto(`${base}/#/reports`);
  await loop.locator('.topbar .user a', { hasText: 'Not signed in: sign in' }).waitFor();
  assert.equal(new URL(await loop.locator('.topbar .user a').getAttribute('href'), base).searchParams.get('next'), '#/reports');
  await loop.waitForTimeout(500);
  assert.equal(new URL(loop.url()).pathname, '/', 'bounced to /login again');
  await loop.context().close();
  step('a 401 right after a trip to /login: no second redirect, a sign-in link in the header');

  const [opName, opPass] = process.env.GB_OPERATOR.split(':');
  const page = await signIn(opName, opPass, '#/', { width: 1280, height: 800 });
  const tile = page.locator('.tile[data-machine="cnc07"]');
  await page.waitForFunction(() => document.querySelector('.tile[data-machine="cnc07"]')?.dataset.state === 'disconnected');
  await tile.getByText('no data yet').waitFor();
  step('board: cnc07 is disconnected, with no data yet');
  await shot(page, 'nodata-board');

  await page.goto(base + '/#/machines/cnc07');
  await page.waitForSelector('.mhead .pill[data-state="disconnected"]');
  // the trend asked and found no series; the panels say there is nothing rather than break
  await page.waitForFunction(() => document.querySelector('.trend .plot')?.dataset.points === '0', null, { timeout: 15000 });
  await page.locator('section[aria-label="downtime Pareto"]').getByText(/No downtime|not classified/).waitFor();
  await page.locator('section[aria-label="stops"]').getByText('No downtime events in this window.').waitFor();
  step('machine page: an empty trend, no stops, no errors');
  await shot(page, 'nodata-machine');

  await page.goto(base + '/#/operator/cnc07');
  await page.getByText('Nothing waits: every stop has a reason.').waitFor();
  await page.locator('.reason-btn[data-reason="unplanned/tooling/breakage"]').waitFor();
  await page.goto(base + '/#/reports');
  await page.waitForSelector('table.data[data-rows="2"]');
  const row = await page.$eval('tr[data-group="cnc07"]', (e) => e.innerText);
  assert.match(row, /cnc07\s+–/, `cnc07's report row: ${row}`);
  step('operator view and reports: nothing to classify, a report row of dashes');
}
