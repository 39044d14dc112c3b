// chat.mjs — the browser end-to-end test: two users in real headless Chromium against a
// real local cluster (two gateways), then a third user for a group scene.
// Usage: node chat.mjs URL_A URL_B
// Saves screenshots to tests/out/screens/ and fails on any console error.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [urlA, urlB] = process.argv.slice(2);
const SCREENS = join(dirname(fileURLToPath(import.meta.url)), '..', 'out', 'screens');
mkdirSync(SCREENS, { recursive: true });
const T = 10000;
const suffix = Math.random().toString(36).slice(2, 8);
const alice = { name: `alice_${suffix}`, nick: 'Alice', pass: 'correct horse 1' };
const bob = { name: `bob_${suffix}`, nick: 'Bob', pass: 'correct horse 2' };
const carol = { name: `carol_${suffix}`, nick: 'Carol', pass: 'correct horse 3' };

let passed = 0, failed = 0, shots = 0;
const consoleErrors = [];
let expect401 = false;   // Chromium logs a refused login's 401 as a console error

async function step(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message.split('\n')[0]}`);
    for (const [p, who] of [[pageA, 'A'], [pageB, 'B'], [pageC, 'C']])
      if (!p.isClosed()) await p.screenshot({ path: join(SCREENS, `fail-${++shots}-${who}.png`) }).catch(() => {});
  }
}

function watch(page, who) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (expect401 && m.text().includes('status of 401')) return;
    consoleErrors.push(`${who}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${who}: ${e.message}`));
}

async function register(page, u) {
  await page.getByTestId('register-toggle').click();
  await page.getByTestId('login-username').fill(u.name);
  await page.getByTestId('login-password').fill(u.pass);
  await page.getByTestId('login-nickname').fill(u.nick);
  await page.getByTestId('register-button').click();
  await page.getByTestId('conn-state').filter({ hasText: 'online' }).waitFor({ timeout: T });
}

async function say(page, text) {
  await page.getByTestId('input').fill(text);
  await page.getByTestId('input').press('Enter');
}

async function waitMine(page, text) {   // the bubble, acknowledged (no pending mark)
  await page.locator('.row.mine:not(.pending)', { hasText: text }).waitFor({ timeout: T });
}

async function waitTheirs(page, text) {
  await page.locator('.row.theirs', { hasText: text }).waitFor({ timeout: T });
}

const shot = (page, name) => page.screenshot({ path: join(SCREENS, name + '.png') });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const ctxA = await browser.newContext({ viewport: { width: 1100, height: 700 } });
const ctxB = await browser.newContext({ viewport: { width: 1100, height: 700 } });
let pageA = await ctxA.newPage();
let pageB = await ctxB.newPage();
const ctxC = await browser.newContext({ viewport: { width: 1100, height: 700 } });
const pageC = await ctxC.newPage();
watch(pageC, 'C');
watch(pageA, 'A');
watch(pageB, 'B');

try {
  await step('login page renders', async () => {
    await pageA.goto(urlA);
    await pageB.goto(urlB);
    await pageA.getByTestId('login-button').waitFor({ timeout: T });
    await shot(pageA, '01-login');
  });

  await step('wrong password shows a clear error', async () => {
    expect401 = true;
    await pageB.getByTestId('login-username').fill('nobody_' + suffix);
    await pageB.getByTestId('login-password').fill('wrong password');
    await pageB.getByTestId('login-button').click();
    await pageB.getByTestId('auth-error').filter({ hasText: 'Wrong username or password' }).waitFor({ timeout: T });
    expect401 = false;
  });

  await step('both register and log in (two gateways)', async () => {
    await register(pageA, alice);
    await register(pageB, bob);
  });

  await step('A finds B in contacts and they exchange messages both ways', async () => {
    await pageA.getByTestId('nav-contacts').click();
    await pageA.getByTestId('search').fill(bob.name);
    await pageA.getByTestId('contact').filter({ hasText: bob.name }).click();
    await pageA.getByTestId('peer-name').filter({ hasText: 'Bob' }).waitFor({ timeout: T });
    await say(pageA, 'Hello Bob 👋');
    await waitMine(pageA, 'Hello Bob 👋');
  });

  await step('B sees an unread badge, opens the chat, the badge clears', async () => {
    const conv = pageB.getByTestId('conversation').filter({ hasText: 'Alice' });
    await conv.getByTestId('unread-badge').filter({ hasText: '1' }).waitFor({ timeout: T });
    await shot(pageB, '02-unread-badge');
    await conv.click();
    await waitTheirs(pageB, 'Hello Bob 👋');
    await conv.getByTestId('unread-badge').waitFor({ state: 'detached', timeout: T });
    await say(pageB, 'Hi Alice!\nTwo lines here.');
    await waitMine(pageB, 'Two lines here.');
    await waitTheirs(pageA, 'Two lines here.');
    await shot(pageA, '03-chat');
  });

  await step('after a reload A is still logged in and sees the history', async () => {
    await pageA.reload();
    await pageA.getByTestId('conn-state').filter({ hasText: 'online' }).waitFor({ timeout: T });
    await pageA.getByTestId('conversation').filter({ hasText: 'Bob' }).click();
    await waitMine(pageA, 'Hello Bob 👋');
    await waitTheirs(pageA, 'Two lines here.');
  });

  await step('B goes away, A sends three, B comes back and gets them in order', async () => {
    await pageB.close();
    for (const t of ['while away 1', 'while away 2', 'while away 3']) {
      await say(pageA, t);
      await waitMine(pageA, t);
    }
    pageB = await ctxB.newPage();
    watch(pageB, 'B');
    await pageB.goto(urlB);
    const conv = pageB.getByTestId('conversation').filter({ hasText: 'Alice' });
    await conv.getByTestId('unread-badge').filter({ hasText: '3' }).waitFor({ timeout: T });
    await conv.click();
    await waitTheirs(pageB, 'while away 3');
    const texts = await pageB.locator('.row.theirs .bubble').allTextContents();
    const away = texts.filter((t) => t.startsWith('while away'));
    if (away.join('|') !== 'while away 1|while away 2|while away 3') throw new Error('order: ' + away.join('|'));
    const seqs = await pageB.locator('.row[data-seq]').evaluateAll((rows) => rows.map((r) => Number(r.dataset.seq)));
    if (seqs.some((s, i) => i && s <= seqs[i - 1])) throw new Error('seqs not ascending: ' + seqs);
    await shot(pageB, '04-back-online');
  });

  await step('a message sent while the network is down goes out on reconnect (same cmid)', async () => {
    await ctxA.setOffline(true);
    await pageA.evaluate(() => window.dispatchEvent(new Event('offline')));
    await say(pageA, 'queued while offline');
    await pageA.locator('.row.mine.pending', { hasText: 'queued while offline' }).waitFor({ timeout: T });
    await ctxA.setOffline(false);
    await pageA.evaluate(() => window.dispatchEvent(new Event('online')));
    await waitMine(pageA, 'queued while offline');
    await waitTheirs(pageB, 'queued while offline');
    const n = await pageB.locator('.row.theirs', { hasText: 'queued while offline' }).count();
    if (n !== 1) throw new Error(`delivered ${n} times`);
  });

  // ---------- the group scene: A creates a group with B and C ----------
  const group = `Team ${suffix}`;
  const system = (page, text) => page.getByTestId('system').filter({ hasText: text }).waitFor({ timeout: T });

  await step('C registers; A creates a group with B (from her chats) and C (by search)', async () => {
    await pageC.goto(urlB);
    await register(pageC, carol);
    await pageA.getByTestId('plus').click();
    await pageA.getByTestId('new-group').click();
    await pageA.getByTestId('group-name').fill(group);
    await pageA.getByTestId('candidate').filter({ hasText: 'Bob' }).click();
    await pageA.getByTestId('group-search').fill(carol.name);
    await pageA.getByTestId('candidate').filter({ hasText: 'Carol' }).click();
    await shot(pageA, '05-new-group');
    await pageA.getByTestId('group-create').click();
    await pageA.getByTestId('peer-name').filter({ hasText: `${group} (3)` }).waitFor({ timeout: T });
    await system(pageA, `You created the group “${group}” with`);
  });

  await step('B and C see the group in their list; B writes, A and C see it under his name', async () => {
    for (const p of [pageB, pageC])
      await p.getByTestId('conversation').filter({ hasText: group }).waitFor({ timeout: T });
    await pageB.getByTestId('conversation').filter({ hasText: group }).click();
    await system(pageB, `Alice created the group “${group}” with`);
    await say(pageB, 'hi team');
    await waitMine(pageB, 'hi team');
    await waitTheirs(pageA, 'hi team');
    await pageA.locator('.row.theirs', { hasText: 'hi team' }).locator('.sender', { hasText: 'Bob' }).waitFor({ timeout: T });
  });

  await step('A @mentions C with the picker; C sees [@you] in the list and the message ringed', async () => {
    await pageA.getByTestId('input').fill('please look @Car');
    await pageA.getByTestId('input').press('End');
    await pageA.getByTestId('input').type('o');   // an input event opens the picker
    await pageA.getByTestId('mention-option').filter({ hasText: '@Carol' }).waitFor({ timeout: T });
    await pageA.getByTestId('input').press('Enter');   // picks, does not send
    await pageA.getByTestId('input').type('at this');
    await pageA.getByTestId('input').press('Enter');
    await waitMine(pageA, 'please look @Carol at this');
    const conv = pageC.getByTestId('conversation').filter({ hasText: group });
    await conv.getByTestId('mention-flag').waitFor({ timeout: T });
    await shot(pageC, '06-mentioned');
    await conv.click();
    await pageC.locator('.row.theirs.mentioned', { hasText: 'please look @Carol at this' }).waitFor({ timeout: T });
    await conv.getByTestId('mention-flag').waitFor({ state: 'detached', timeout: T });
  });

  await step('A sees "2 read" under her message once B and C have read it', async () => {
    await pageA.locator('.row.mine', { hasText: 'please look @Carol' }).getByTestId('reads')
      .filter({ hasText: '2 read' }).waitFor({ timeout: T });
    await shot(pageA, '07-group-chat');
  });

  await step('A kicks C from the member panel: C is told and can no longer write, B is told', async () => {
    await pageA.getByTestId('group-info').click();
    const row = pageA.getByTestId('member').filter({ hasText: 'Carol' });
    await shot(pageA, '08-member-panel');
    await row.getByTestId('kick').click();
    await row.waitFor({ state: 'detached', timeout: T });
    await system(pageA, 'You removed Carol');
    await system(pageB, 'Alice removed Carol');
    await system(pageC, 'Alice removed you');
    await pageC.locator('[data-testid=input][disabled]').waitFor({ timeout: T });
    await pageA.getByTestId('peer-name').filter({ hasText: `${group} (2)` }).waitFor({ timeout: T });
    await shot(pageC, '09-kicked');
  });

  await step('after the kick, what A writes reaches B and not C', async () => {
    await say(pageA, 'after the kick');
    await waitTheirs(pageB, 'after the kick');
    await pageC.waitForTimeout(1000);
    const n = await pageC.locator('.row', { hasText: 'after the kick' }).count();
    if (n !== 0) throw new Error('a removed member got a message');
  });

  await step('B renames himself in Settings; it holds after a reload', async () => {
    await pageB.getByTestId('nav-settings').click();
    await pageB.getByTestId('settings-nickname').fill('Bobby');
    await pageB.getByTestId('settings-save').click();
    await pageB.getByTestId('settings-note').filter({ hasText: 'Saved.' }).waitFor({ timeout: T });
    await pageB.reload();
    await pageB.getByTestId('conn-state').filter({ hasText: 'online' }).waitFor({ timeout: T });
    const title = await pageB.getByTestId('me-avatar').getAttribute('title');
    if (title !== 'Bobby') throw new Error('after reload: ' + title);
  });

  await step('B asks C to be friends from a search; C sees the badge and accepts', async () => {
    await pageB.getByTestId('nav-contacts').click();
    await pageB.getByTestId('search').fill(carol.name);
    await pageB.getByTestId('contact').filter({ hasText: 'Carol' }).getByTestId('add-friend').click();
    await pageB.getByTestId('add-friend').filter({ hasText: 'Requested' }).waitFor({ timeout: T });
    await pageC.getByTestId('requests-badge').filter({ hasText: '1' }).waitFor({ timeout: T });
    await pageC.getByTestId('nav-contacts').click();
    const req = pageC.getByTestId('friend-request').filter({ hasText: 'Bobby' });
    await req.waitFor({ timeout: T });
    await shot(pageC, '10-friend-request');
    await req.getByTestId('friend-accept').click();
    await pageC.getByTestId('friend').filter({ hasText: 'Bobby' }).getByTestId('online-dot').waitFor({ timeout: T });
    await pageC.getByTestId('requests-badge').waitFor({ state: 'hidden', timeout: T });
    await pageB.getByTestId('search').fill('');
    await pageB.getByTestId('friend').filter({ hasText: 'Carol' }).waitFor({ timeout: T });
  });

  await step('C blocks B from the chat header; what B sends is refused and shown as not delivered', async () => {
    await pageC.getByTestId('friend').filter({ hasText: 'Bobby' }).click();
    await pageC.getByTestId('peer-name').filter({ hasText: 'Bobby' }).waitFor({ timeout: T });
    await pageC.getByTestId('block-user').click();
    await pageC.getByTestId('block-user').filter({ hasText: 'Unblock' }).waitFor({ timeout: T });
    await pageB.getByTestId('friend').filter({ hasText: 'Carol' }).click();
    await say(pageB, 'are you there?');
    await pageB.getByTestId('messages').locator('.system', { hasText: 'does not accept your messages' })
      .waitFor({ timeout: T });
    await shot(pageB, '11-blocked');
    await pageC.waitForTimeout(500);
    if (await pageC.locator('.row', { hasText: 'are you there?' }).count()) throw new Error('a blocked message arrived');
  });

  await step('A recalls a message; both see "recalled" in its place', async () => {
    // A's list still says "Bob": a rename reaches others on their next load, not by push
    await pageA.getByTestId('conversation').filter({ has: pageA.locator('.item-name', { hasText: /^Bob/ }) }).click();
    await say(pageA, 'oops, not for you');
    await waitMine(pageA, 'oops, not for you');
    const row = pageA.locator('.row.mine', { hasText: 'oops, not for you' });
    await row.hover();
    await row.getByTestId('recall').click();
    await pageA.getByTestId('recalled').filter({ hasText: 'You recalled a message' }).waitFor({ timeout: T });
    await pageB.getByTestId('conversation').filter({ has: pageB.locator('.item-name', { hasText: /^Alice$/ }) }).click();
    await pageB.getByTestId('recalled').filter({ hasText: 'Alice recalled a message' }).waitFor({ timeout: T });
    if (await pageB.locator('.row', { hasText: 'oops, not for you' }).count()) throw new Error('recalled text still shown');
    await shot(pageB, '12-recalled');
  });

  await step('B sees A typing; A sees "Read" once B has read', async () => {
    await pageB.getByTestId('peer-status').filter({ hasText: 'online' }).waitFor({ timeout: T });
    await pageA.getByTestId('input').fill('typing now');
    await pageB.getByTestId('typing').filter({ hasText: 'Alice is typing' }).waitFor({ timeout: T });
    await shot(pageB, '13-typing');
    await pageA.getByTestId('input').press('Enter');
    await waitTheirs(pageB, 'typing now');
    await pageB.waitForFunction(() => document.querySelector('[data-testid=typing]').textContent === '', null,
                                { timeout: T });   // a message from the typist ends it
    await pageA.locator('.row.mine', { hasText: 'typing now' }).getByTestId('read-mark').waitFor({ timeout: T });
  });

  await step('logout returns to the login page', async () => {
    await pageB.getByTestId('logout').click();
    await pageB.getByTestId('login-button').waitFor({ timeout: T });
  });

  await step('no console errors', async () => {
    if (consoleErrors.length) throw new Error(consoleErrors.join(' / '));
  });
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
