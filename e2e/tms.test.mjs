// A TMS course in a real browser at a tablet's size: a clinician starts it
// from a patient's record, the patient answers the baseline on the clinic's
// tablet (kiosk), a technician records the motor threshold and a session on
// the session screen, and a check-in with question 9 above 0 shows the
// safety message. axe-core on every page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectNoAxeViolations, launchChromium } from './browser.mjs';
import { newDataDir, runCommand, startServer } from './server.mjs';

const PASSWORD = 'lilac-otter-harbour-quietly';
const CLINICIAN = 'dana.cole@riverbend.example';
const TECHNICIAN = 'sam.ortiz@riverbend.example';
let server, base, browser, kioskUrl;
/** The pre-session checklist's questions, as the session screen asks them. */
const CHECKLIST = ['Change in medication', 'Much less sleep than usual',
  'Heavy drinking, or stopping alcohol or benzodiazepines suddenly, since the last session',
  'New implant or metal in the head or neck', 'Pregnancy, or may be pregnant', 'A seizure since the last session',
  'Recreational drugs or stimulants since the last session', 'A head injury since the last session',
  'New or worse thoughts of suicide', 'Signs of mania or hypomania'];

before(async () => {
  const dataDir = newDataDir();
  const file = join(dataDir, '..', `pw-tms-${process.pid}`);
  writeFileSync(file, PASSWORD + '\n');
  runCommand(['user', 'add', '--email', CLINICIAN, '--role', 'clinician', '--password-file', file], dataDir);
  runCommand(['user', 'add', '--email', TECHNICIAN, '--role', 'technician', '--password-file', file], dataDir);
  server = await startServer({ ACTIVEPATH_STAFF__REQUIRE_SECOND_FACTOR: 'false' }, dataDir);
  base = server.base;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** A tablet-sized, touch page signed in as `email`. */
async function signedIn(email) {
  const context = await browser.newContext({ viewport: { width: 768, height: 1024 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(base + '/staff/login');
  await page.getByLabel('Work e-mail address').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([page.waitForURL(/\/staff$/), page.getByRole('button', { name: 'Sign in' }).click()]);
  return { context, page };
}

/** Answers the PHQ-9 on the check-in page (question 9 as given). */
async function answerCheckIn(page, q9) {
  const items = page.locator('fieldset.item');
  for (let i = 0; i < 9; i++) {
    await items.nth(i).locator(`input[value="${i === 8 ? q9 : 2}"]`).check();
  }
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Send my answers' }).click()]);
}

test('a TMS course from the record to a session, on a tablet', async () => {
  const { context, page } = await signedIn(CLINICIAN);
  await Promise.all([page.waitForURL(/\/staff\/patients$/), page.getByRole('link', { name: 'Patients', exact: true }).click()]);
  await Promise.all([page.waitForURL(/\/staff\/patients\/new/), page.getByRole('link', { name: 'New patient record' }).click()]);
  await page.getByLabel('Name').fill('Nora Blake');
  await page.getByLabel('Date of birth').fill('1979-06-30');
  await page.getByLabel('E-mail').fill('nora@example.org');
  await Promise.all([page.waitForURL(/\/staff\/patients\/\d+$/), page.getByRole('button', { name: 'Make the record' }).click()]);
  await Promise.all([page.waitForURL(/courses\/new$/), page.getByRole('link', { name: 'Start a TMS course' }).click()]);
  await expectNoAxeViolations(page, 'new course');
  await page.getByLabel(/Planned sessions/).fill('0');
  // The server's checks, as a browser without its own would meet them.
  await page.locator('main form').evaluate((f) => f.setAttribute('novalidate', ''));
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Start the course' }).click()]);
  assert.match(await page.locator('.error-summary').innerText(), /Protocol: is required/);
  assert.equal(await page.getByLabel(/Planned sessions/).inputValue(), '0', 'the input is kept');
  await expectNoAxeViolations(page, 'new course with errors');
  await page.getByLabel('Protocol').selectOption('10hz');
  await page.getByLabel(/Planned sessions/).fill('');
  await page.getByLabel(/Target/).selectOption('left-dlpfc');
  await Promise.all([page.waitForURL(/\/staff\/courses\/\d+$/), page.getByRole('button', { name: 'Start the course' }).click()]);
  const course = page.url();
  assert.match(await page.locator('.alerts').innerText(), /check-in is due/);
  await expectNoAxeViolations(page, 'course page, new');
  assert.match(await page.locator('#before-missing').innerText(), /still needed/);

  // Before any session: consent, the safety screen and the physician's order.
  await Promise.all([page.waitForURL(/\/before$/), page.getByRole('link', { name: 'Consent, safety screen and order' }).click()]);
  await expectNoAxeViolations(page, 'before treatment, nothing recorded');
  await page.getByLabel(/Consent form version/).fill('TMS consent 2026-1');
  await Promise.all([page.waitForURL(/done=consent$/), page.getByRole('button', { name: 'Record the consent' }).click()]);
  for (const q of [/a seizure, a convulsion/, /any metal in the patient/, /an implanted device/, /a serious head injury/,
    /surgery on the brain or skull/, /pregnant, or could they be/, /a problem with TMS before/, /bipolar disorder/]) {
    await page.getByRole('group', { name: q }).getByLabel('No').check();
  }
  await Promise.all([page.waitForURL(/done=safety-screen$/), page.getByRole('button', { name: 'Sign the safety screen' }).click()]);
  // The order starts from the protocol's dose: 120% MT, 3,000 pulses, once a day.
  assert.equal(await page.getByLabel(/Pulses in each session/).inputValue(), '3000');
  await Promise.all([page.waitForURL(/done=order$/), page.getByRole('button', { name: 'Sign the order' }).click()]);
  assert.match(await page.locator('#before-status').innerText(), /Ready for sessions/);
  await expectNoAxeViolations(page, 'before treatment, ready');
  await page.goto(course);

  // Its 36 sessions on the chair, from a weekday two or more days ahead.
  const day = new Date(Date.now() + 2 * 86400e3);
  while ([0, 6].includes(day.getUTCDay())) day.setUTCDate(day.getUTCDate() + 1);
  await page.getByLabel('First session').fill(day.toISOString().slice(0, 10) + 'T09:00');
  await Promise.all([page.waitForURL(/done=series$/), page.getByRole('button', { name: 'Book the sessions' }).click()]);
  assert.equal(await page.locator('#schedule-caption').locator('xpath=..').locator('tbody tr').count(), 36);
  await expectNoAxeViolations(page, 'course page with its sessions booked');
  await page.goto(base + '/staff');
  assert.match(await page.locator('main').innerText(), /TMS courses that need attention/);
  await expectNoAxeViolations(page, 'queue with a course that needs attention');
  await page.goto(course);

  // The clinic's tablet: set up once, then the baseline is sent to it.
  await Promise.all([page.waitForURL(/\/staff\/kiosks$/), page.getByRole('link', { name: 'Set up a clinic tablet for check-ins' }).click()]);
  await page.getByLabel(/^Name/).fill('Treatment room 1');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Add the tablet' }).click()]);
  // The address as configured (base_url); this server listens elsewhere.
  kioskUrl = base + new URL(await page.locator('code.secret').innerText()).pathname;
  await expectNoAxeViolations(page, 'clinic tablets');
  await page.goto(course);
  await Promise.all([page.waitForURL(/done=tablet$/), page.getByRole('button', { name: 'Send a check-in to the tablet' }).click()]);
  await context.close();

  // On the tablet, which holds no staff session: no name anywhere.
  const tablet = await browser.newContext({ viewport: { width: 768, height: 1024 }, isMobile: true, hasTouch: true });
  const t = await tablet.newPage();
  await t.goto(kioskUrl);
  await expectNoAxeViolations(t, 'tablet, waiting');
  await Promise.all([t.waitForURL(/\?start=1$/), t.getByRole('link', { name: 'Start my questionnaire' }).click()]);
  assert.doesNotMatch(await t.locator('body').innerText(), /Nora/);
  await expectNoAxeViolations(t, 'check-in on the tablet');
  await answerCheckIn(t, 0);
  assert.match(await t.locator('main').innerText(), /hand the tablet back/);
  assert.doesNotMatch(await t.locator('main').innerText(), /Nora|\b18\b/);
  await expectNoAxeViolations(t, 'check-in done');
  await Promise.all([t.waitForURL(kioskUrl), t.getByRole('link', { name: 'Done' }).click()]);
  await t.goBack();
  assert.doesNotMatch(await t.locator('body').innerText(), /Nora/, 'nothing of the patient to go back to');

  // The technician: the course, the motor threshold, then a session.
  const tech = await signedIn(TECHNICIAN);
  const p = tech.page;
  await Promise.all([p.waitForURL(/\/staff\/courses$/), p.getByRole('link', { name: 'TMS courses' }).click()]);
  await expectNoAxeViolations(p, 'course list');
  await Promise.all([p.waitForURL(course), p.getByRole('link', { name: 'Nora Blake' }).click()]);
  await p.getByLabel('Device output (%)').fill('54');
  await p.getByLabel('Method').selectOption('emg');
  await Promise.all([p.waitForLoadState('load'), p.getByRole('button', { name: 'Record the motor threshold' }).click()]);
  assert.match(await p.locator('main').innerText(), /motor threshold is recorded/);
  await Promise.all([p.waitForURL(/\/session$/), p.getByRole('link', { name: 'Record a session' }).click()]);
  await expectNoAxeViolations(p, 'session screen');
  assert.match(await p.locator('main').innerText(), /54% output/);
  // Nothing answered: each checklist question says so.
  await p.locator('form.session-form').evaluate((f) => f.setAttribute('novalidate', ''));
  await Promise.all([p.waitForLoadState('load'), p.getByRole('button', { name: 'Record the session' }).click()]);
  assert.equal(await p.locator('.checklist .field-error').count(), 10);
  await expectNoAxeViolations(p, 'session screen with errors');
  for (const q of CHECKLIST) {
    await p.getByRole('group', { name: q, exact: true }).getByLabel('No').check();
  }
  await p.getByLabel('Earplugs are fitted for the patient').check();
  await p.getByLabel(/Trains/).fill('75');
  await p.getByLabel(/Device \(optional\)/).fill('Chair 1');
  await p.getByLabel('Headache').check();
  await Promise.all([p.waitForURL(/\/staff\/courses\/\d+\?done=session$/), p.getByRole('button', { name: 'Record the session' }).click()]);
  const sessions = p.locator('#sessions-caption').locator('xpath=..');
  assert.match(await sessions.innerText(), /Headache/);
  assert.match(await p.locator('main').innerText(), /1 of 36/);
  await expectNoAxeViolations(p, 'course page with a session');

  // A PHQ-9 from paper: the form alone is checked here.
  await Promise.all([p.waitForURL(/check-ins\/new$/), p.getByRole('link', { name: 'Enter a PHQ-9 from paper' }).click()]);
  await expectNoAxeViolations(p, 'PHQ-9 from paper');
  await p.goto(course);

  // A check-in with question 9 above 0 on the tablet: the safety message.
  await Promise.all([p.waitForURL(/done=tablet$/), p.getByRole('button', { name: 'Send a check-in to the tablet' }).click()]);
  await t.goto(kioskUrl + '?start=1');
  await answerCheckIn(t, 1);
  assert.match(await t.locator('main').innerText(), /Your safety matters most/);
  assert.equal(await t.locator('a[href="tel:988"]').count() > 0, true);
  await expectNoAxeViolations(t, 'check-in with question 9 above 0');
  await tablet.close();
  await p.goto(course);
  assert.equal(await p.locator('.chart svg circle').count(), 2, 'baseline and follow-up drawn');
  assert.match(await p.locator('#check-ins-caption').locator('xpath=..').innerText(), /Above 0/);
  await expectNoAxeViolations(p, 'course page with two check-ins');
  await tech.context.close();
});
