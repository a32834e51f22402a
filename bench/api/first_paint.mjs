// The andon board's first paint in headless Chromium (Debian's, through playwright-core): from
// navigation start until every machine's tile shows its state, for a plant of N machines. Signs
// in through the API first (the session cookie lands in the browser context), then loads the
// board RUNS times in fresh pages. Prints JSON: each run's milliseconds, the median and the best.
// Env: URL, BENCH_USER, BENCH_PASSWORD, N, RUNS, CHROMIUM, GB_NODE_MODULES.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.GB_NODE_MODULES, 'noop.js'));
const { chromium } = require('playwright-core');
const url = process.env.URL, n = Number(process.env.N), runs = Number(process.env.RUNS || 5);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // no sandbox as root; nothing here reaches for the network beyond the loopback daemon
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const login = await ctx.request.post(`${url}/api/v1/session`, {
    data: { user: process.env.BENCH_USER, password: process.env.BENCH_PASSWORD } });
  if (!login.ok()) throw new Error(`sign-in: ${login.status()} ${await login.text()}`);
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const page = await ctx.newPage();
    await page.goto(`${url}/`, { waitUntil: 'commit' });
    await page.waitForFunction((want) =>
      document.querySelectorAll('.tile[data-state]:not([data-state="unknown"])').length === want,
      n, { timeout: 60000, polling: 'raf' });
    ms.push(await page.evaluate(() => performance.now()));
    await page.close();
  }
  const sorted = [...ms].sort((a, b) => a - b);
  console.log(JSON.stringify({ runs: ms.map((x) => Math.round(x)), median: Math.round(sorted[sorted.length >> 1]),
                               best: Math.round(sorted[0]) }));
} finally {
  await browser.close();
}
