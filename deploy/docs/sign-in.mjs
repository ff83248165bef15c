// make sign-in-check: the sign-in pages in headless Chromium (Debian's, driven by
// playwright-core) through the gateway, as an MIS sends its users there: the whole flow to the
// code, its exchange and a seed call with the token; the code by SMS (stand-in provider), sent
// again on request; a phone set by a user whose factor has none; a
// wrong password; an unregistered redirect (an error page, no redirect); deny; a form without
// its CSRF token; a second sign-in whose approval covers the scopes (no consent page); English
// by Accept-Language; the pages at 360 px. Screenshots: target/sign-in/<name>.png.
// Env: GATE, MITHRIL, SMS, ADMIN_TOKEN and the DEMO_* of deploy/local/demo_data.sh.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const E = process.env;
const out = new URL('../../target/sign-in/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const MIS = new URL(E.DEMO_REDIRECT).origin;

function signInUrl({ scope, state = 'st-' + Math.random().toString(36).slice(2), redirect = E.DEMO_REDIRECT, client = E.DEMO_MSP_ID, responseType = 'code' }) {
  const q = new URLSearchParams({ response_type: responseType, client_id: client, redirect_uri: redirect, scope, state });
  return { url: `${E.GATE}/sign-in?${q}`, state };
}

const browser = await chromium.launch({
  executablePath: E.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
});

/// A browser context whose trips to the MIS's redirect URI are caught (that host is not there).
async function visitor({ locale = 'uk-UA', width = 1024 } = {}) {
  const context = await browser.newContext({ locale, viewport: { width, height: 800 } });
  const landed = [];
  await context.route(`${MIS}/**`, (route) => {
    landed.push(route.request().url());
    return route.fulfill({ status: 200, contentType: 'text/html', body: '<p>MIS</p>' });
  });
  const page = await context.newPage();
  return { context, page, landed };
}

async function password(page, pass = E.DEMO_PASSWORD) {
  await page.getByLabel(/Електронна пошта|E-mail/).fill(E.DEMO_EMAIL);
  await page.getByLabel(/Пароль|Password/).fill(pass);
  return Promise.all([page.waitForLoadState('load'), page.locator('#submit').click()]);
}

async function json(method, url, body, headers = {}) {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

const checks = {
  async 'unregistered redirect: an error page, no redirect'() {
    const { context, page, landed } = await visitor();
    const { url } = signInUrl({ scope: 'connection:read', redirect: 'https://evil.example/cb' });
    const res = await page.goto(url);
    expect(res.status() === 400, `status ${res.status()}`);
    expect(page.url().startsWith(E.GATE), `went to ${page.url()}`);
    expect((await page.locator('#error').innerText()).includes('не зареєстровано'), 'the message');
    await page.screenshot({ path: `${out}unregistered-redirect.png` });
    const unknown = await page.goto(signInUrl({ scope: 'connection:read', client: '00000000-0000-4000-8000-000000000000' }).url);
    expect(unknown.status() === 400 && landed.length === 0, 'unknown client');
    await context.close();
    return 'status 400, the page says the address is not registered; an unknown client too';
  },

  async 'wrong password, in English by Accept-Language'() {
    const { context, page } = await visitor({ locale: 'en-US' });
    await page.goto(signInUrl({ scope: 'connection:read' }).url);
    expect((await page.locator('h1').innerText()) === 'Sign in', 'English');
    const [, ] = await password(page, 'Wrong1password!');
    expect((await page.locator('#error').innerText()) === 'Identity, password combination is wrong.', 'message');
    expect((await page.getByLabel('E-mail').inputValue()) === E.DEMO_EMAIL, 'the e-mail is kept');
    await page.screenshot({ path: `${out}wrong-password.png` });
    await context.close();
    return 'the form again with "Identity, password combination is wrong.", the e-mail kept';
  },

  async 'a form without its CSRF token is refused'() {
    const { context, page, landed } = await visitor();
    await page.goto(signInUrl({ scope: 'connection:read' }).url);
    await page.evaluate(() => document.querySelector('input[name=csrf]').remove());
    await page.getByLabel('Електронна пошта').fill(E.DEMO_EMAIL);
    await page.getByLabel('Пароль').fill(E.DEMO_PASSWORD);
    const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.locator('#submit').click()]);
    expect(response.status() === 403, `status ${response.status()}`);
    expect(landed.length === 0, 'no code');
    // The answer came; its page may not be shown yet (a screenshot in between fails).
    await page.locator('#error').waitFor();
    await page.screenshot({ path: `${out}missing-csrf.png` });
    // A wrong token (not a missing one) is the 403.
    await page.goto(signInUrl({ scope: 'connection:read' }).url);
    await page.evaluate(() => { document.querySelector('input[name=csrf]').value = 'forged'; });
    await page.getByLabel('Електронна пошта').fill(E.DEMO_EMAIL);
    await page.getByLabel('Пароль').fill(E.DEMO_PASSWORD);
    const [forged] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.locator('#submit').click()]);
    expect(forged.status() === 403, `forged: ${forged.status()}`);
    await context.close();
    return 'missing token: 403, forged token: 403, no code issued';
  },

  async 'the whole flow: consent, code, exchange, seed 000 with the token'() {
    const { context, page, landed } = await visitor({ width: 360 });
    const { url, state } = signInUrl({ scope: 'connection:read legal_entity:read' });
    await page.goto(url);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'fits 360 px');
    await page.screenshot({ path: `${out}sign-in-360.png`, fullPage: true });
    await password(page);
    const scopes = await page.locator('#scopes li').allInnerTexts();
    expect(scopes.includes('Перегляд: юридичні особи'), `scopes: ${scopes}`);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'consent fits 360 px');
    await page.screenshot({ path: `${out}consent-360.png`, fullPage: true });
    await page.locator('#approve').click();
    await page.waitForURL(`${MIS}/**`);
    const back = new URL(landed.at(-1));
    expect(back.searchParams.get('state') === state, 'state');
    const code = back.searchParams.get('code');
    expect(code, 'a code');
    const exchange = await json('POST', `${E.GATE}/oauth/tokens`, { token: {
      grant_type: 'authorization_code', client_id: E.DEMO_MSP_ID, client_secret: E.DEMO_CONNECTION_SECRET,
      code, redirect_uri: E.DEMO_REDIRECT } });
    expect(exchange.status === 201, `exchange ${exchange.status}`);
    const seed = await json('GET', `${E.GATE}/api/clients/${E.DEMO_MSP_ID}/connections`, undefined, {
      authorization: `Bearer ${exchange.body.data.value}`, 'api-key': E.DEMO_MIS_API_KEY });
    expect(seed.status === 200, `seed 000: ${seed.status}`);
    await context.close();
    return `consent listed ${scopes.length} scopes in words; redirected with code and state; exchange 201; seed 000 200 (${seed.body.data.length} connections)`;
  },

  async 'a second sign-in whose approval covers the scopes: no consent page'() {
    const { context, page, landed } = await visitor();
    const { url, state } = signInUrl({ scope: 'legal_entity:read' });
    await page.goto(url);
    await password(page);
    await page.waitForURL(`${MIS}/**`);
    const back = new URL(landed.at(-1));
    expect(back.searchParams.get('code') && back.searchParams.get('state') === state, 'code and state');
    await context.close();
    return 'from the password straight to the redirect with a code';
  },

  async 'deny: the MIS gets error=access_denied'() {
    const { context, page, landed } = await visitor();
    const { url, state } = signInUrl({ scope: 'employee:read' });
    await page.goto(url);
    await password(page);
    await page.locator('#deny').click();
    await page.waitForURL(`${MIS}/**`);
    const back = new URL(landed.at(-1));
    expect(back.searchParams.get('error') === 'access_denied' && back.searchParams.get('state') === state, back.href);
    expect(!back.searchParams.get('code'), 'no code');
    await context.close();
    return 'redirected with error=access_denied and the state, no code';
  },

  async 'the code by SMS'() {
    const admin = { authorization: `Bearer ${E.ADMIN_TOKEN}` };
    const phone = '+380501112233';
    const factor = await json('POST', `${E.MITHRIL}/admin/users/${E.DEMO_USER_ID}/authentication_factors`, { type: 'SMS', factor: phone }, admin);
    expect(factor.status === 201, `factor ${factor.status}`);
    try {
      const { context, page, landed } = await visitor();
      const { url, state } = signInUrl({ scope: 'connection:read' });
      await page.goto(url);
      await password(page);
      expect(await page.getByLabel('Код із SMS').isVisible(), 'the code page');
      await page.getByLabel('Код із SMS').fill('000000');
      await Promise.all([page.waitForLoadState('load'), page.locator('#submit').click()]);
      const wrong = await page.locator('#error').innerText();
      // A new code on request: the earlier one no longer counts.
      await Promise.all([page.waitForLoadState('load'), page.locator('#resend').click()]);
      const notice = await page.locator('#notice').innerText();
      const messages = await (await fetch(`${E.SMS}/messages`)).json();
      const sent = messages.filter((m) => m.phone_number === phone);
      expect(sent.length === 2, `${sent.length} messages`);
      const code = sent.at(-1).body.match(/\d{6}/)[0];
      await page.screenshot({ path: `${out}otp.png` });
      await page.getByLabel('Код із SMS').fill(code);
      await page.locator('#submit').click();
      await page.waitForURL(`${MIS}/**`);
      const back = new URL(landed.at(-1));
      expect(back.searchParams.get('code') && back.searchParams.get('state') === state, 'code and state');
      await context.close();
      return `the code page; a wrong code: "${wrong}"; "${notice}" and a second SMS; its code: redirected with a code`;
    } finally {
      await json('PATCH', `${E.MITHRIL}/admin/users/${E.DEMO_USER_ID}/authentication_factors/${factor.body.data.id}/actions/disable`, undefined, admin);
    }
  },

  async 'a user whose factor has no phone sets one, approved by its code'() {
    const admin = { authorization: `Bearer ${E.ADMIN_TOKEN}` };
    const phone = '+380674445566';
    const factors = `${E.MITHRIL}/admin/users/${E.DEMO_USER_ID}/authentication_factors`;
    const id = (await json('GET', factors, undefined, admin)).body.data[0].id;
    await json('PATCH', `${factors}/${id}/actions/enable`, undefined, admin);
    await json('PATCH', `${factors}/${id}/actions/reset`, undefined, admin);
    try {
      const { context, page, landed } = await visitor();
      const { url, state } = signInUrl({ scope: 'connection:read' });
      await page.goto(url);
      await password(page);
      // A number the form's pattern refuses is not sent; the server refuses it too (without the
      // pattern) and says how a number looks.
      await page.getByLabel('Номер телефону').fill('0501234567');
      expect(!(await page.locator('#phone').evaluate((el) => el.validity.valid)), 'the pattern');
      await page.locator('#phone').evaluate((el) => el.removeAttribute('pattern'));
      await Promise.all([page.waitForLoadState('load'), page.locator('#submit').click()]);
      const bad = await page.locator('#error').innerText();
      await page.getByLabel('Номер телефону').fill(phone);
      await Promise.all([page.waitForLoadState('load'), page.locator('#submit').click()]);
      await page.screenshot({ path: `${out}factor-otp.png` });
      const messages = await (await fetch(`${E.SMS}/messages`)).json();
      const code = messages.filter((m) => m.phone_number === phone).at(-1).body.match(/\d{6}/)[0];
      await page.getByLabel('Код із SMS').fill(code);
      await page.locator('#submit').click();
      await page.waitForURL(`${MIS}/**`);
      const back = new URL(landed.at(-1));
      expect(back.searchParams.get('code') && back.searchParams.get('state') === state, 'code and state');
      const factor = (await json('GET', `${factors}/${id}`, undefined, admin)).body.data;
      expect(factor.factor === phone, `the factor's phone: ${factor.factor}`);
      await context.close();
      return `the phone page; a bad number: "${bad}"; the code sent to the new phone approved it (the factor has it) and redirected with a code`;
    } finally {
      await json('PATCH', `${factors}/${id}/actions/disable`, undefined, admin);
    }
  },
};

let passed = 0;
let failed = 0;
try {
  for (const [name, check] of Object.entries(checks)) {
    try {
      const what = await check();
      passed += 1;
      console.log(`${name}: ${what}`);
    } catch (e) {
      failed += 1;
      console.log(`${name}: FAILED: ${e.message.split('\n')[0]}`);
    }
  }
} finally {
  await browser.close();
}
console.log(`sign-in pages: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
