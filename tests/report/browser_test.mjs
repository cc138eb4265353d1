// Opens cfx's report.html files from disk in headless Debian Chromium (via playwright-core
// from deps/) and fails on anything a reader would hit: console or page errors, a network
// request, an image that does not render, missing curves, a hostile class name that became
// markup, pagination or tabs that do not show their items.
// Usage: node browser_test.mjs OUT_DIR HOSTILE_CLASS_NAME
//   OUT_DIR/explain/report.html (an explain run of 60 items: two pages) and
//   OUT_DIR/eval/report.html (an eval run of two methods: two tabs); screenshots go to OUT_DIR.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(new URL('../../deps/', import.meta.url));
const { chromium } = require('playwright-core');

const [outDir, hostile] = process.argv.slice(2);
if (!outDir || !hostile) {
  console.error('usage: node browser_test.mjs OUT_DIR HOSTILE_CLASS_NAME');
  process.exit(2);
}
const executablePath = process.env.CFX_CHROMIUM || '/usr/bin/chromium';

// Never hang a test run: the whole test gets two minutes.
const watchdog = setTimeout(() => {
  console.error('browser test: timed out');
  process.exit(1);
}, 120_000);

let checks = 0;
function check(ok, what) {
  if (!ok) throw new Error('check failed: ' + what);
  ++checks;
}

// Everything the page reports that a reader would see as broken.
function watch(page, problems) {
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push('console error: ' + m.text());
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('dialog', (d) => {
    problems.push('dialog opened: ' + d.message());
    d.dismiss().catch(() => {});
  });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('file:') && !u.startsWith('data:')) problems.push('network request: ' + u);
  });
}

// Waits until every visible <img> has decoded; returns how many there are. On failure says
// which images did not render and what the page complained of.
async function visibleImagesRendered(page, problems) {
  try {
    await page.waitForFunction(() => {
      const imgs = [...document.images].filter((i) => i.offsetParent !== null);
      return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    }, null, { timeout: 20_000 });
  } catch (e) {
    const broken = await page.evaluate(() => [...document.images]
      .filter((i) => i.offsetParent !== null && !(i.complete && i.naturalWidth > 0))
      .map((i) => (i.getAttribute('src') || '(no src)').slice(0, 60)));
    throw new Error(`images did not render: ${JSON.stringify(broken.slice(0, 5))} ` +
                    `(${broken.length} in all); page problems: ${JSON.stringify(problems)}`);
  }
  return page.evaluate(() => [...document.images].filter((i) => i.offsetParent !== null).length);
}

// The shown items of the shown run: how many, their pages, their drawn curves.
async function shownItems(page) {
  return page.evaluate(() => {
    const run = document.querySelector('section.run:not([hidden])');
    const items = [...run.querySelectorAll('article.item')].filter((a) => !a.hidden);
    const lines = [...run.querySelectorAll('article.item:not([hidden]) svg.curve polyline')];
    return {
      count: items.length,
      pages: [...new Set(items.map((a) => a.dataset.page))],
      curves: lines.filter((l) => l.getBoundingClientRect().width > 0).length,
      info: run.querySelector('.pager .info').textContent,
    };
  });
}

// The hostile name is on the page as text, and nothing it spells exists as an element.
async function checkEscaped(page, where) {
  const r = await page.evaluate((h) => ({
    asText: document.body.innerText.includes(h),
    injectedImg: document.querySelectorAll('img[src="x"], img[src$="/x"]').length,
    scripts: document.querySelectorAll('script').length,
  }), hostile);
  check(r.asText, `${where}: hostile class name shown as text`);
  check(r.injectedImg === 0, `${where}: no injected <img src=x>`);
  check(r.scripts === 1, `${where}: only the report's own <script> (found ${r.scripts})`);
}

// Every "mean [lo, hi]" the page shows for a bounded metric (a table row named after it)
// stays inside the metric's range, lo <= mean <= hi. Returns how many intervals it checked.
const RANGES = {
  validity: [0, 1], oracle_validity: [0, 1], converged: [0, 1], pointing_game: [0, 1],
  loc_error: [0, 1], target_prob: [0, 1], class_prob: [0, 1], infill_prob: [0, 1],
  saliency_area: [0, 1], deletion_auc: [0, 1], insertion_auc: [0, 1], iou: [0, 1],
  box_iou: [0, 1], l0: [0, 1], l1: [0, 1], l2: [0, 1], sanity_rank_corr: [-1, 1],
};
async function checkIntervalsInRange(page, what) {
  const rows = await page.evaluate(() => [...document.querySelectorAll('tr')].map((tr) => ({
    name: (tr.querySelector('th') || {}).textContent || '',
    cells: [...tr.querySelectorAll('td')].map((td) => td.textContent),
  })));
  let n = 0;
  for (const { name, cells } of rows) {
    const range = RANGES[name.replace(/ \(95% interval\)$/, '').replace(/\s*[\u2191\u2193]$/, '')];
    if (!range) continue;
    for (const cell of cells) {
      const m = /^(-?[\d.e+-]+) \[(-?[\d.e+-]+), (-?[\d.e+-]+)\]/.exec(cell.trim());
      if (!m) continue;
      const [mean, lo, hi] = m.slice(1, 4).map(Number);
      n++;
      check(range[0] <= lo && lo <= mean + 1e-9 && mean <= hi + 1e-9 && hi <= range[1],
            `${what}: ${name} = ${cell.trim()} leaves [${range}] or its own interval`);
    }
  }
  return n;
}

// OUT_DIR/<run>/report.html opened from disk, with its problems watched from the start.
async function openReport(browser, run) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  watch(page, problems);
  const file = path.join(outDir, run, 'report.html');
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, problems };
}

async function testExplain(browser) {
  const { page, problems } = await openReport(browser, 'explain');

  const n1 = await visibleImagesRendered(page, problems);
  check(n1 >= 3, `explain page 1: images render (${n1})`);
  const p1 = await shownItems(page);
  check(p1.count === 50 && p1.pages.join() === '0', `explain page 1 shows 50 items of page 0 (${JSON.stringify(p1)})`);
  check(p1.curves >= 2 * p1.count, `explain page 1: SVG curves drawn (${p1.curves})`);
  check(p1.info === 'page 1 of 2', `explain pager says page 1 of 2 (${p1.info})`);
  check(await page.locator('table').first().isVisible(), 'explain: summary table shown');
  check((await page.locator('pre').first().innerText()).includes('cfx explain'), 'explain: invocation shown');
  const nExplain = await checkIntervalsInRange(page, 'explain');
  check(nExplain >= 5, `explain: summary intervals shown (${nExplain})`);
  await checkEscaped(page, 'explain');
  await page.screenshot({ path: path.join(outDir, 'report.png') });

  // Page 2: its images were held back in data-src until now.
  const pending = await page.evaluate(() => document.querySelectorAll('img[data-src]').length);
  check(pending > 0, `explain: page 2 images not decoded before it is shown (${pending})`);
  await page.locator('.pager [data-act=next]').first().click();
  const p2 = await shownItems(page);
  check(p2.count === 10 && p2.pages.join() === '1', `explain page 2 shows 10 items of page 1 (${JSON.stringify(p2)})`);
  const n2 = await visibleImagesRendered(page, problems);
  check(n2 >= 10, `explain page 2: images render (${n2})`);
  check(p2.curves >= 2 * p2.count, `explain page 2: SVG curves drawn (${p2.curves})`);
  await page.screenshot({ path: path.join(outDir, 'report-page2.png') });

  check(problems.length === 0, 'explain: no errors, dialogs or requests:\n  ' + problems.join('\n  '));
  await page.close();
}

async function testEval(browser) {
  const { page, problems } = await openReport(browser, 'eval');

  const tabs = page.locator('.tabs button');
  check((await tabs.count()) === 2, 'eval: one tab per method');
  const table = await page.locator('table').nth(1).innerText();
  check(/validity/.test(table) && /\d \[[-\d.e]+, [-\d.e]+\]/.test(table), 'eval: metric table with "mean [lo, hi]"');
  check((await visibleImagesRendered(page, problems)) >= 3, 'eval tab 1: images render');
  // The page opens with the comparison plots: drawn, one point per method, before the table.
  const plots = await page.evaluate(() => [...document.querySelectorAll('figure.plot svg')].map((svg) => {
    const box = svg.getBoundingClientRect();
    return { w: box.width, h: box.height, points: svg.querySelectorAll('circle').length,
             top: box.top + window.scrollY };
  }));
  const tableTop = await page.evaluate(() => document.querySelectorAll('table')[1].getBoundingClientRect().top + window.scrollY);
  check(plots.length === 2, `eval: two comparison plots (${plots.length})`);
  check(plots.every((p) => p.w > 200 && p.h > 200 && p.points === 2),
        `eval: plots render with a point per method (${JSON.stringify(plots)})`);
  check(plots.every((p) => p.top < tableTop), 'eval: plots come before the metric table');
  const nEval = await checkIntervalsInRange(page, 'eval');
  check(nEval >= 10, `eval: bounded metrics' intervals checked (${nEval})`);
  await checkEscaped(page, 'eval');

  await tabs.nth(1).click();
  const shown = await page.evaluate(() => [...document.querySelectorAll('section.run')].map((s) => !s.hidden));
  check(shown.join() === 'false,true', `eval: second tab shows the second method only (${shown})`);
  check((await visibleImagesRendered(page, problems)) >= 3, 'eval tab 2: images render');
  check((await shownItems(page)).curves > 0, 'eval tab 2: SVG curves drawn');
  await page.screenshot({ path: path.join(outDir, 'report-eval.png') });

  check(problems.length === 0, 'eval: no errors, dialogs or requests:\n  ' + problems.join('\n  '));
  await page.close();
}

let browser;
try {
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'], timeout: 60_000 });
  await testExplain(browser);
  await testEval(browser);
  console.log(`browser test: ${checks} checks passed; screenshots in ${outDir}`);
} catch (e) {
  console.error('browser test: ' + (e && e.stack ? e.stack : e));
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  clearTimeout(watchdog);
}
