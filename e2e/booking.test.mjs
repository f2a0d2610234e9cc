// Booking a first consultation in a real browser at a phone's size, with
// the keyboard where a person would use it: choose a type and place, a
// time, give details (a mistake first), confirm it from the e-mail, then
// move and cancel the booking from its own page. axe-core on every page of
// the flow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectNoAxeViolations, launchChromium, phonePage } from './browser.mjs';
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

/** The path of the link to confirm a booking, from the e-mail the server
 *  wrote to its mail folder (quoted-printable: soft line breaks undone). */
async function confirmLink(dataDir) {
  const folder = join(dataDir, 'mail');
  for (let i = 0; i < 100; i++) {
    let names = [];
    try { names = readdirSync(folder).filter((n) => n.endsWith('.eml')); } catch { /* not yet */ }
    for (const name of names) {
      const text = readFileSync(join(folder, name), 'utf8').replace(/=\r?\n/g, '');
      const found = text.match(/\/book\/confirm\/[A-Za-z0-9_-]+/);
      if (found) return found[0];
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no e-mail with a link to confirm the booking');
}

/** Follows a link by its text, waiting for the next page. */
async function follow(page, locator) {
  await Promise.all([page.waitForLoadState('load'), locator.click()]);
}

test('a visitor books, moves and cancels a consultation on a phone', async () => {
  const page = await phonePage(browser);
  await page.goto(base + '/book');
  await expectNoAxeViolations(page, '/book');
  assert.equal(await page.locator('footer a[href="tel:988"]').count(), 1);
  await follow(page, page.getByRole('link', { name: 'See times at Riverbend main clinic' }).first());
  await expectNoAxeViolations(page, 'a week of times');
  // The first free time, this week or a later one.
  let times = page.locator('.slot-list a');
  for (let week = 0; week < 3 && (await times.count()) === 0; week++) {
    await follow(page, page.getByRole('link', { name: 'Later times' }));
    times = page.locator('.slot-list a');
  }
  assert.ok((await times.count()) > 0, 'free times are offered');
  const chosen = await times.first().textContent();
  await follow(page, times.first());
  assert.match(await page.locator('.lead').textContent(), new RegExp(chosen.trim()));
  await expectNoAxeViolations(page, 'details form');

  // Mistakes (no phone number, no consent): explained beside each field,
  // the rest kept.
  await page.getByLabel('Your name').fill('Zoë Example');
  await page.getByLabel('E-mail address (for the confirmation)').fill('zoe@example.com');
  await follow(page, page.getByRole('button', { name: 'Book this time' }));
  await page.waitForSelector('.error-summary');
  await expectNoAxeViolations(page, 'details form with errors');
  assert.equal(await page.getByLabel('Your name').inputValue(), 'Zoë Example');
  assert.equal(await page.locator('#phone').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('#consent').getAttribute('aria-invalid'), 'true');

  await page.getByLabel('Phone number').fill('+1 555 010 4477');
  await page.getByLabel(/may keep these details/).check();
  await follow(page, page.getByRole('button', { name: 'Book this time' }));
  // Held until confirmed from the e-mail.
  await page.waitForSelector('text=Check your e-mail to confirm');
  await expectNoAxeViolations(page, 'held: check your e-mail');
  await page.goto(base + (await confirmLink(server.dataDir)));
  await expectNoAxeViolations(page, 'confirm the booking');
  await follow(page, page.getByRole('button', { name: 'Yes, confirm my booking' }));
  await page.waitForSelector('text=You are booked');
  assert.match(page.url(), /\/book\/manage\/[A-Za-z0-9_-]+\?done=booked$/);
  await expectNoAxeViolations(page, 'booked');

  // Move it to another time.
  await follow(page, page.getByRole('link', { name: 'Choose another time' }));
  await expectNoAxeViolations(page, 'times to move to');
  let others = page.locator('.slot-list a');
  for (let week = 0; week < 3 && (await others.count()) === 0; week++) {
    await follow(page, page.getByRole('link', { name: 'Later times' }));
    others = page.locator('.slot-list a');
  }
  await follow(page, others.nth(1));
  await expectNoAxeViolations(page, 'confirm the move');
  await follow(page, page.getByRole('button', { name: 'Yes, move it' }));
  await page.waitForSelector('text=Your appointment has moved');

  // Cancel it, with the keyboard.
  await follow(page, page.getByRole('link', { name: 'Cancel the appointment' }));
  await expectNoAxeViolations(page, 'confirm the cancellation');
  await page.getByRole('button', { name: 'Yes, cancel it' }).focus();
  await Promise.all([page.waitForLoadState('load'), page.keyboard.press('Enter')]);
  await page.waitForSelector('text=Your appointment is cancelled');
  await expectNoAxeViolations(page, 'cancelled');
  assert.equal(await page.getByRole('link', { name: 'Book another time' }).count(), 1);
  await page.context().close();
});
