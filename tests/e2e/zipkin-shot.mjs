// zipkin-shot.mjs ZIPKIN_URL OUT.png — a screenshot of the newest trace of one message (the
// gateway's `send` root) in Zipkin's UI, in headless Chromium, for the README. Needs a
// cluster started with CIM_TRACING=1 (deploy/local/up.sh) that has carried a message.
import { chromium } from 'playwright-core';

const [base, out] = process.argv.slice(2);
if (!base || !out) throw new Error('usage: zipkin-shot.mjs ZIPKIN_URL OUT.png');
const traces = await (await fetch(`${base}/api/v2/traces?serviceName=im-logic&spanName=logic%20send&limit=1`)).json();
if (!traces.length) throw new Error('no trace of a message yet');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${base}/zipkin/traces/${traces[0][0].traceId}`, { waitUntil: 'networkidle' });
  await page.waitForTimeout(2000);
  await page.screenshot({ path: out, fullPage: false });
} finally {
  await browser.close();
}
