// make docs-check: loads every /docs page in headless Chromium (Debian's, driven by
// playwright-core) with every request to anything but loopback cut off, and checks that the
// operations of the page's own document are rendered and that the page asked no other host for
// anything. Screenshots go to target/docs/<name>.png.
// Env: MITHRIL, AUTH, ROLES, GATE, GATE_OPS (base URLs, from deploy/local/with-stack.sh).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const pages = {
  'mithril-api': process.env.MITHRIL,
  'auth-token': process.env.AUTH,
  'employee-roles': process.env.ROLES,
  'gatekeeper-ops': process.env.GATE_OPS,
  'gateway-public': process.env.GATE,
};
const out = new URL('../../target/docs/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });

const loopback = (url) => {
  const host = new URL(url).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
};

function operations(doc) {
  const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
  return Object.values(doc.paths ?? {}).flatMap((item) =>
    Object.keys(item).filter((m) => methods.includes(m)));
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
let failed = 0;
let passed = 0;
try {
  for (const [name, base] of Object.entries(pages)) {
    if (!base) throw new Error(`no base URL for ${name}`);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const cutOff = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (loopback(url)) return route.continue();
      cutOff.push(url);
      return route.abort('internetdisconnected');
    });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const doc = await (await fetch(`${base}/openapi.json`)).json();
    const expected = operations(doc).length;
    try {
      await page.goto(`${base}/docs`, { waitUntil: 'load' });
      await page.locator('.opblock').first().waitFor({ timeout: 20000 });
      const rendered = await page.locator('.opblock').count();
      const title = (await page.locator('.info .title').first().innerText()).split('\n')[0];
      await page.screenshot({ path: `${out}${name}.png`, fullPage: false });
      const problems = [];
      if (rendered !== expected) problems.push(`${rendered} operations rendered, the document has ${expected}`);
      if (cutOff.length) problems.push(`asked other hosts for: ${cutOff.join(', ')}`);
      if (errors.length) problems.push(`script errors: ${errors.join('; ')}`);
      if (problems.length) {
        failed += 1;
        console.log(`${name}: FAILED: ${problems.join('; ')}`);
      } else {
        passed += 1;
        console.log(`${name}: "${title}", ${rendered} operations rendered, no request beyond loopback (target/docs/${name}.png)`);
      }
    } catch (e) {
      failed += 1;
      console.log(`${name}: FAILED: ${e.message.split('\n')[0]} (cut off: ${cutOff.join(', ') || 'nothing'})`);
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(`docs pages: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
