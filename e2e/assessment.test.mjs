// The visitor's flow in a real browser (Debian's Chromium), at a phone-sized
// viewport, keyboard only; axe-core on every page of the flow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { expectNoAxeViolations, launchChromium, phonePage as newPhonePage } from './browser.mjs';
import { startServer } from './server.mjs';

let server, base, browser;

before(async () => {
  server = await startServer();
  base = server.base;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

const phonePage = () => newPhonePage(browser);

/** Presses Tab until the focused element satisfies `pred` (bounded). */
async function tabUntil(page, pred, arg) {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(pred, arg)) return;
  }
  throw new Error('focus never reached the expected element');
}

/** Answers a questionnaire with the keyboard only: Tab into each radio
 *  group, Space to pick the first answer, Right arrow to move to the value. */
async function answerWithKeyboard(page, answers, difficulty) {
  for (let i = 0; i < answers.length; i++) {
    await tabUntil(page, (name) => document.activeElement?.name === name, `q${i + 1}`);
    await page.keyboard.press('Space');
    for (let k = 0; k < answers[i]; k++) await page.keyboard.press('ArrowRight');
  }
  await tabUntil(page, () => document.activeElement?.name === 'difficulty');
  await page.keyboard.press('Space');
  for (let k = 0; k < difficulty; k++) await page.keyboard.press('ArrowRight');
  await tabUntil(page, () => document.activeElement?.type === 'submit');
  await Promise.all([page.waitForURL(/\/assessment\/result\//), page.keyboard.press('Enter')]);
}

test('every page type has no axe violations and the crisis footer', async () => {
  const page = await phonePage();
  for (const path of ['/', '/assessment', '/assessment/phq9', '/assessment/gad7', '/no-such-page',
    '/tms', '/tms-results', '/contact', '/contact/message', '/book', '/book/callback', '/privacy', '/accessibility', '/notice-of-privacy-practices', '/non-discrimination', '/terms', '/blog', '/blog/tag/tms',
    '/team', '/faq', '/insurance', '/psychotherapy', '/medication-management', '/treatment-resistant-depression',
    '/blog/5-benefits-of-talk-therapy-for-depression', '/blog/understanding-your-phq-9-score']) {
    await page.goto(base + path);
    await expectNoAxeViolations(page, path);
    assert.equal(await page.locator('footer a[href="tel:988"]').count(), 1, `crisis footer on ${path}`);
  }
  await page.context().close();
});

test('an incomplete form re-renders with messages and no axe violations', async () => {
  const page = await phonePage();
  await page.goto(base + '/assessment/phq9');
  await page.getByLabel('Several days').first().check();
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'See my result' }).click()]);
  await page.waitForSelector('.error-summary');
  assert.match(await page.locator('.error-summary').innerText(), /question 2\./);
  assert.ok(await page.locator('input[name="q1"][value="1"]').isChecked(), 'the given answer is kept');
  await expectNoAxeViolations(page, 'PHQ-9 error re-render');
  await page.context().close();
});

test('PHQ-9 by keyboard at phone size, a kind result, then shared with the clinic', async () => {
  const page = await phonePage();
  await page.goto(base + '/assessment/phq9');
  await answerWithKeyboard(page, [1, 2, 1, 2, 1, 1, 0, 0, 0], 1);
  const main = await page.locator('main').innerText();
  assert.match(main, /\b8\s+out of 27/);
  assert.doesNotMatch(main, /8\s+8 out of 27/, 'the score is said once');
  assert.match(main, /Screening result: Mild/);
  assert.match(main, /not a diagnosis/);
  assert.equal(await page.locator('.safety').count(), 0, 'no safety message without item 9');
  await expectNoAxeViolations(page, 'result page');

  await page.getByRole('link', { name: 'Send my result to the clinic' }).click();
  await page.waitForURL(/\/share$/);
  await expectNoAxeViolations(page, 'share form');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Send my result' }).click()]);
  await page.waitForSelector('.error-summary');
  await expectNoAxeViolations(page, 'share form with errors');
  await page.getByLabel('Your name').fill('Sam Example');
  await page.getByLabel(/^E-mail address/).fill('sam@example.org');
  await page.getByLabel('E-mail', { exact: true }).check();
  await page.getByLabel(/I agree to send/).check();
  await Promise.all([page.waitForURL(/\/shared$/), page.getByRole('button', { name: 'Send my result' }).click()]);
  assert.match(await page.locator('h1').innerText(), /Your result has been sent/);
  await expectNoAxeViolations(page, 'shared confirmation');
  await page.context().close();
});

test('item 9 above zero shows the safety message before the score', async () => {
  const page = await phonePage();
  await page.goto(base + '/assessment/phq9');
  await answerWithKeyboard(page, [0, 1, 0, 0, 0, 0, 0, 0, 1], 0);
  const safety = page.locator('.safety');
  assert.equal(await safety.count(), 1);
  assert.match(await safety.innerText(), /988/);
  const safetyBox = await safety.boundingBox();
  const scoreBox = await page.locator('#score-heading').boundingBox();
  assert.ok(safetyBox.y + safetyBox.height <= scoreBox.y, 'safety message is above the score');
  const order = await page.evaluate(() => {
    const s = document.querySelector('.safety');
    const score = document.querySelector('#score-heading');
    return s.compareDocumentPosition(score) & Node.DOCUMENT_POSITION_FOLLOWING;
  });
  assert.ok(order, 'and before it in reading order');
  await expectNoAxeViolations(page, 'result page with the safety message');

  // The print stylesheet fits the summary, safety note included, on one page.
  await page.emulateMedia({ media: 'print' });
  const pdf = (await page.pdf({ format: 'Letter' })).toString('latin1');
  const pages = pdf.match(/\/Type\s*\/Page(?!s)/g) ?? [];
  assert.equal(pages.length, 1, 'the printed result is one page');
  await page.context().close();
});

test('a form sent too often gets a calm page with crisis help, and no axe violations', async () => {
  const limited = await startServer({
    ACTIVEPATH_RATE_LIMIT__ASSESSMENT__PER_HOUR: '1',
    ACTIVEPATH_RATE_LIMIT__ASSESSMENT__BURST: '1',
  });
  try {
    const page = await phonePage();
    for (let i = 0; i < 2; i++) {
      await page.goto(limited.base + '/assessment/gad7');
      for (let q = 1; q <= 7; q++) await page.locator(`input[name="q${q}"][value="0"]`).check();
      await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'See my result' }).click()]);
    }
    assert.match(await page.locator('h1').innerText(), /Please wait a little/);
    assert.match(await page.locator('main').innerText(), /988/);
    assert.equal(await page.locator('footer a[href="tel:988"]').count(), 1);
    await expectNoAxeViolations(page, '429 page');
    await page.context().close();
  } finally {
    limited.stop();
  }
});

test('no page scrolls sideways at 320 px (WCAG 1.4.10 reflow)', async () => {
  const context = await browser.newContext({ viewport: { width: 320, height: 640 } });
  const page = await context.newPage();
  // A result page and its share form, too.
  const answers = { q1: '2', q2: '2', q3: '1', q4: '1', q5: '0', q6: '1', q7: '0', q8: '0', q9: '0', difficulty: '2' };
  const res = await page.request.post(base + '/assessment/phq9', { form: answers, maxRedirects: 0 });
  const result = res.headers().location;
  const paths = ['/', '/assessment', '/assessment/phq9', '/tms', '/tms-results', '/contact', '/contact/message',
    '/team', '/faq', '/insurance', '/psychotherapy', '/medication-management', '/treatment-resistant-depression', '/accessibility',
    '/book', '/book/initial-consultation/main', '/book/callback', '/privacy', '/blog', '/blog/tag/tms',
    '/blog/understanding-your-phq-9-score', result, result + '/share', '/staff/login'];
  const wide = [];
  for (const path of paths) {
    await page.goto(base + path);
    const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    if (scroll > client) wide.push(`${path}: ${scroll} > ${client}`);
  }
  assert.deepEqual(wide, [], 'pages wider than the screen');
  await context.close();
});

test('wide screens get one header row and the clinic picture beside the lead; phones keep the self-assessment above the fold', async () => {
  const wide = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await wide.newPage();
  await page.goto(base + '/');
  const box = async (selector) => page.locator(selector).first().boundingBox();
  const [brand, nav, lead, picture] = [await box('.brand'), await box('.site-header nav'), await box('.hero-text h1'), await box('.hero-media img')];
  assert.ok(Math.abs(brand.y + brand.height / 2 - (nav.y + nav.height / 2)) < 12, `logo and menu share a row: ${JSON.stringify([brand, nav])}`);
  assert.ok(picture.x > lead.x + lead.width - 1 && picture.y < lead.y + lead.height, 'the picture sits beside the lead');
  assert.ok(await page.locator('.cards .card-item').count() >= 4, 'treatments as cards');
  const readable = await page.locator('.prose').first().boundingBox();
  assert.ok(readable.width <= 46 * 17 + 1, `text stays in a readable column (${readable.width}px)`);
  await wide.close();

  const phone = await phonePage();
  await phone.goto(base + '/');
  const cta = await phone.getByRole('link', { name: 'Take the online depression self-assessment' }).boundingBox();
  const height = phone.viewportSize().height;
  assert.ok(cta.y + cta.height <= height, `the self-assessment button is above the fold (${cta.y + cta.height} > ${height})`);
  await phone.context().close();
});
