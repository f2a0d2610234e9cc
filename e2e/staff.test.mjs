// The staff portal in a real browser: first sign-in with the second factor
// (the test computes the authenticator's code), an urgent case worked from
// the queue to closed, at a phone's and a desktop's size; axe-core on every
// portal page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectNoAxeViolations, launchChromium } from './browser.mjs';
import { newDataDir, runCommand, startServer } from './server.mjs';

const EMAIL = 'morgan.ellis@riverbend.example';
const PASSWORD = 'lilac-otter-harbour-quietly';
const ADMIN = 'owner@riverbend.example';
let server, base, browser, recoveryCodes;

before(async () => {
  const dataDir = newDataDir();
  const file = join(dataDir, '..', `pw-${process.pid}`);
  writeFileSync(file, PASSWORD + '\n');
  runCommand(['user', 'add', '--email', EMAIL, '--role', 'clinician', '--password-file', file], dataDir);
  runCommand(['user', 'add', '--email', ADMIN, '--role', 'admin', '--password-file', file], dataDir);
  server = await startServer({}, dataDir);
  base = server.base;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 6238: SHA-1, 6 digits, 30-second steps. */
function totp(secret, seconds = Date.now() / 1000) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(seconds / 30)));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, '0');
}


/** Shares a PHQ-9 with question 9 above 0, as a visitor would. */
async function shareUrgentResult(request) {
  const answers = { q1: '2', q2: '2', q3: '1', q4: '1', q5: '0', q6: '1', q7: '0', q8: '0', q9: '1', difficulty: '2' };
  const res = await request.post(base + '/assessment/phq9', { form: answers, maxRedirects: 0 });
  const path = res.headers().location;
  const shared = await request.post(base + path + '/share', {
    form: { name: 'Ana Rivera', email: 'ana@example.org', contact_method: 'email', contact_time: 'any', consent: 'yes' },
    maxRedirects: 0,
  });
  assert.equal(shared.status(), 303);
}

test('first sign-in with the second factor, then an urgent case from the queue to closed, on a phone', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await shareUrgentResult(page.request);

  await page.goto(base + '/staff');
  await page.waitForURL(/\/staff\/login$/);
  await expectNoAxeViolations(page, 'sign-in page');
  await page.getByLabel('Work e-mail address').fill(EMAIL);
  await page.getByLabel('Password').fill('not my password');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Sign in' }).click()]);
  assert.match(await page.locator('.error-summary').innerText(), /not right/);
  await expectNoAxeViolations(page, 'sign-in page with an error');
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([page.waitForURL(/\/staff\/enrol$/), page.getByRole('button', { name: 'Sign in' }).click()]);
  await expectNoAxeViolations(page, 'second-factor set-up');
  const secret = base32Decode(await page.locator('code.secret').innerText());
  await page.getByLabel(/six-digit code/).fill(totp(secret));
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Confirm' }).click()]);
  recoveryCodes = await page.locator('.recovery-codes code').allInnerTexts();
  assert.equal(recoveryCodes.length, 10);
  await expectNoAxeViolations(page, 'recovery codes');
  await Promise.all([page.waitForURL(/\/staff$/), page.getByRole('link', { name: /I have kept them/ }).click()]);

  await expectNoAxeViolations(page, 'queue');
  const first = page.locator('table.queue tbody tr').first();
  assert.match(await first.innerText(), /Urgent/);
  await Promise.all([page.waitForURL(/\/staff\/cases\/\d+$/), first.getByRole('link').click()]);
  assert.match(await page.locator('main').innerText(), /Question 9/);
  assert.match(await page.locator('main').innerText(), /Ana Rivera/);
  await expectNoAxeViolations(page, 'case page');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Take this case' }).click()]);
  assert.match(await page.locator('.timeline').innerText(), /took the case/);
  await page.getByLabel('Phone call').check();
  await page.getByLabel('What happened').selectOption('reached');
  await page.getByLabel('Note (optional)').fill('Spoke with her; safety plan in place; appointment tomorrow.');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Record the attempt' }).click()]);
  assert.match(await page.locator('.timeline').innerText(), /tried to reach them by Phone call: reached them/);
  await page.getByLabel('Reason for closing').selectOption('contacted');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Close the case' }).click()]);
  assert.match(await page.locator('.facts-list').first().innerText(), /Closed/);
  await expectNoAxeViolations(page, 'closed case');
  await page.goto(base + '/staff');
  assert.match(await page.locator('main').innerText(), /Nothing is waiting/);

  // The calendar: book a phone consultation for someone who called.
  await Promise.all([page.waitForURL(/\/staff\/calendar/), page.getByRole('link', { name: 'Calendar' }).click()]);
  await expectNoAxeViolations(page, 'calendar');
  await page.getByLabel('Book an appointment:').selectOption('phone-consultation');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Choose a time' }).click()]);
  await expectNoAxeViolations(page, 'times to book');
  let times = page.locator('.slot-list a');
  for (let week = 0; week < 3 && (await times.count()) === 0; week++) {
    await Promise.all([page.waitForLoadState('load'), page.getByRole('link', { name: 'Later times' }).click()]);
    times = page.locator('.slot-list a');
  }
  await Promise.all([page.waitForLoadState('load'), times.first().click()]);
  await expectNoAxeViolations(page, 'booking form');
  await page.getByLabel('Your name').fill('Ravi Patel');
  await page.getByLabel('E-mail address (for the confirmation)').fill('ravi@example.com');
  await page.getByLabel('Phone number').fill('555 010 2323');
  await page.getByLabel(/The person agreed/).check();
  await Promise.all([page.waitForURL(/\/staff\/appointments\//), page.getByRole('button', { name: 'Book this time' }).click()]);
  assert.match(await page.locator('main').innerText(), /Ravi Patel/);
  await expectNoAxeViolations(page, 'appointment');
  await context.close();
});

test('at a desktop size: sign in with a recovery code, and a form error is explained', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await shareUrgentResult(page.request);
  await page.goto(base + '/staff/login');
  await page.getByLabel('Work e-mail address').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([page.waitForURL(/\/staff\/login\/code$/), page.getByRole('button', { name: 'Sign in' }).click()]);
  await expectNoAxeViolations(page, 'code page');
  await page.getByLabel('Code', { exact: true }).fill(recoveryCodes[1]);
  await Promise.all([page.waitForURL(/\/staff$/), page.getByRole('button', { name: 'Continue' }).click()]);
  await expectNoAxeViolations(page, 'queue, desktop');
  await page.locator('table.queue tbody tr').first().getByRole('link').click();
  await page.waitForURL(/\/staff\/cases\/\d+$/);
  await page.getByLabel('E-mail').check();
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Record the attempt' }).click()]);
  assert.match(await page.locator('.error-summary').innerText(), /Please choose what happened/);
  assert.ok(await page.getByLabel('E-mail').isChecked(), 'the choice is kept');
  await expectNoAxeViolations(page, 'case page with an error');

  // A patient record from the case, with the score drawn over time.
  await Promise.all([page.waitForURL(/\/staff\/patients\/new/), page.getByRole('link', { name: 'Make a record from this case' }).click()]);
  await expectNoAxeViolations(page, 'new patient record');
  assert.equal(await page.getByLabel('Name').inputValue(), 'Ana Rivera');
  await page.getByLabel('Date of birth').fill('1985-04-12');
  await page.getByLabel('Clinical notes').fill('Two antidepressant trials this episode.');
  await Promise.all([page.waitForURL(/\/staff\/patients\/\d+$/), page.getByRole('button', { name: 'Make the record' }).click()]);
  assert.equal(await page.locator('svg[role="img"] circle').count(), 1);
  await expectNoAxeViolations(page, 'patient record');
  await Promise.all([page.waitForURL(/\/staff\/patients$/), page.getByRole('link', { name: 'Patients', exact: true }).click()]);
  await page.getByLabel('Find a patient').fill('rivera');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Find' }).click()]);
  assert.match(await page.locator('main').innerText(), /Ana Rivera/);
  await expectNoAxeViolations(page, 'patient search');
  await context.close();
});

test('an administrator: accounts, an invitation, the audit log and API tokens; and the forgotten-password page', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(base + '/staff/password-reset');
  await expectNoAxeViolations(page, 'forgotten-password page');
  await page.goto(base + '/staff/login');
  await page.getByLabel('Work e-mail address').fill(ADMIN);
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([page.waitForURL(/\/staff\/enrol$/), page.getByRole('button', { name: 'Sign in' }).click()]);
  const secret = base32Decode(await page.locator('code.secret').innerText());
  await page.getByLabel(/six-digit code/).fill(totp(secret));
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Confirm' }).click()]);
  await Promise.all([page.waitForURL(/\/staff$/), page.getByRole('link', { name: /I have kept them/ }).click()]);
  assert.match(await page.locator('main').innerText(), /You are signed in/);
  await expectNoAxeViolations(page, 'home for an administrator');

  await page.getByRole('link', { name: 'Accounts' }).click();
  await page.waitForURL(/\/staff\/accounts$/);
  await expectNoAxeViolations(page, 'accounts');
  await page.getByLabel('Work e-mail address').fill('new.person@riverbend.example');
  await page.getByLabel('Role').selectOption('coordinator');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Ask for the account' }).click()]);
  assert.match(await page.locator('main').innerText(), /Asked for: new.person@riverbend.example as Coordinator/);
  await expectNoAxeViolations(page, 'accounts after asking for an account');

  // Waiting for a second person: the one who asked may only withdraw it.
  await Promise.all([page.waitForURL(/\/staff\/grants$/), page.getByRole('link', { name: 'Approvals' }).click()]);
  assert.match(await page.locator('main').innerText(), /new.person@riverbend.example/);
  assert.equal(await page.getByRole('button', { name: /^Approve/ }).count(), 0);
  await expectNoAxeViolations(page, 'approvals');

  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.waitForURL(/\/staff\/audit$/);
  assert.match(await page.locator('table').innerText(), /request_grant/);
  await expectNoAxeViolations(page, 'audit log');

  await page.getByRole('link', { name: 'API tokens' }).click();
  await page.waitForURL(/\/staff\/tokens$/);
  await page.getByLabel(/What it is for/).fill('Reporting');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Make the token' }).click()]);
  assert.match(await page.locator('code.secret').innerText(), /^ap_/);
  await expectNoAxeViolations(page, 'API tokens with a new token');

  // The site's figures: a drawn chart and its numbers.
  await Promise.all([page.waitForURL(/\/staff\/figures$/), page.getByRole('link', { name: 'Site figures' }).click()]);
  assert.equal(await page.locator('svg[role="img"]').count(), 1);
  await expectNoAxeViolations(page, 'site figures');

  // The booking set-up and the mail delivery log, with a form error.
  await Promise.all([page.waitForURL(/\/staff\/booking-setup$/), page.getByRole('link', { name: 'Booking set-up' }).click()]);
  await expectNoAxeViolations(page, 'booking set-up');
  await page.locator('#hours-start').fill('13:00');
  await page.locator('#hours-end').fill('09:00');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Add weekly hours' }).click()]);
  assert.match(await page.locator('.error-summary').innerText(), /end must be after the start/);
  await expectNoAxeViolations(page, 'booking set-up with an error');
  await Promise.all([page.waitForURL(/\/staff\/mail$/), page.getByRole('link', { name: 'Mail', exact: true }).click()]);
  await expectNoAxeViolations(page, 'mail delivery log');
  await context.close();
});
