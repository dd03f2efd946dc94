// Headless Chromium on herd api's chat page: sends two messages and checks the replies arrive piece by piece.
import {chromium} from 'playwright-core';
import assert from 'node:assert/strict';

const [url, apiKey] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', e => pageErrors.push(e.message));
  await page.goto(url + '/');
  await page.fill('#key', apiKey);
  await page.dispatchEvent('#key', 'change');
  await page.fill('#max', '40');
  // Every length the reply bubble goes through: streaming shows many, a whole reply one.
  await page.evaluate(() => {
    window.lengths = new Set();
    new MutationObserver(() => {
      const replies = document.querySelectorAll('.assistant');
      if (replies.length) window.lengths.add(replies[replies.length - 1].textContent.length);
    }).observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true});
  });
  for (const [i, message] of ['Tell me a story', 'And then?'].entries()) {
    await page.fill('#input', message);
    await page.click('#send');
    await page.waitForFunction(n => document.querySelectorAll('.assistant').length === n && !document.getElementById('send').disabled, i + 1,
      {timeout: 60000});
  }
  const replies = await page.locator('.assistant').allTextContents();
  const errors = await page.locator('.error').count();
  const stats = await page.textContent('#stats');
  const lengths = await page.evaluate(() => window.lengths.size);
  assert.deepEqual(pageErrors, []);
  assert.equal(errors, 0);
  assert.equal(replies.length, 2);
  assert.ok(replies.every(r => r.length > 0), 'both replies have text');
  assert.ok(lengths > 5, `the reply grew in steps (${lengths} lengths seen)`);
  assert.match(stats, /tok\/s/);
  assert.match(stats, /[1-9]\d* reused/, 'the second turn reused the first from the cache');
  await page.waitForFunction(() => document.getElementById('model').textContent === 'stories15M-q8_0.gguf');
  console.log(`chromium ${browser.version()}: 2 streamed replies (${lengths} lengths seen); stats: ${stats}`);
} finally {
  await browser.close();
}
