// prometheus-shot.mjs PROMETHEUS_URL OUT.png — a screenshot of Prometheus's graph of the
// send latency in ms (p50/p99 of cim_hop_server_seconds over the last 3 minutes) in headless
// Chromium, for the README. Needs a cluster with traffic (deploy/local/up.sh, CIM_METRICS=1).
import { chromium } from 'playwright-core';

const [base, out] = process.argv.slice(2);
if (!base || !out) throw new Error('usage: prometheus-shot.mjs PROMETHEUS_URL OUT.png');
const q = (p) => `1000 * histogram_quantile(${p}, sum by (le) (rate(cim_hop_server_seconds_bucket[1m])))`;
const params = new URLSearchParams({
  'g0.expr': `label_replace(${q(0.5)}, "quantile", "p50 (ms)", "", "") or label_replace(${q(0.99)}, "quantile", "p99 (ms)", "", "")`,
  'g0.tab': '0', 'g0.stacked': '0', 'g0.range_input': '3m',
});
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`${base}/graph?${params}`, { waitUntil: 'networkidle' });
  await page.waitForSelector('.graph svg, .graph canvas, .rickshaw_graph svg, .graph_area svg', { timeout: 20000 });
  await page.waitForTimeout(1000);
  await page.screenshot({ path: out, fullPage: false });
} finally {
  await browser.close();
}
