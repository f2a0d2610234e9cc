// The patient's safety flag at the chair, in a real browser at a tablet's
// size: a PHQ-9 with question 9 above 0 raises the flag; the technician's
// session screen shows it, and recording the session is refused with the
// reason above the form; a clinician records the safety review; then the
// technician's session goes through. axe-core on every page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectNoAxeViolations, launchChromium } from './browser.mjs';
import { newDataDir, runCommand, startServer } from './server.mjs';

const PASSWORD = 'lilac-otter-harbour-quietly';
const CLINICIAN = 'rae.holt@riverbend.example';
const TECHNICIAN = 'kit.wong@riverbend.example';
const CHECKLIST = ['Change in medication', 'Much less sleep than usual',
  'Heavy drinking, or stopping alcohol or benzodiazepines suddenly, since the last session',
  'New implant or metal in the head or neck', 'Pregnancy, or may be pregnant', 'A seizure since the last session',
  'Recreational drugs or stimulants since the last session', 'A head injury since the last session',
  'New or worse thoughts of suicide', 'Signs of mania or hypomania'];
let server, base, browser, token;

before(async () => {
  const dataDir = newDataDir();
  const file = join(dataDir, '..', `pw-safety-${process.pid}`);
  writeFileSync(file, PASSWORD + '\n');
  runCommand(['user', 'add', '--email', CLINICIAN, '--role', 'clinician', '--password-file', file], dataDir);
  runCommand(['user', 'add', '--email', TECHNICIAN, '--role', 'technician', '--password-file', file], dataDir);
  token = runCommand(['user', 'token', '--email', CLINICIAN, '--name', 'e2e set-up'], dataDir).trim().split('\n')[0].trim();
  server = await startServer({ ACTIVEPATH_STAFF__REQUIRE_SECOND_FACTOR: 'false' }, dataDir);
  base = server.base;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** The staff API as the clinician: the parsed answer, which must be 201. */
async function api(path, body) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201, `${path}: ${await res.clone().text()}`);
  return res.json();
}

/** A tablet-sized (820×1180), touch page signed in as `email`. */
async function signedIn(email) {
  const context = await browser.newContext({ viewport: { width: 820, height: 1180 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(base + '/staff/login');
  await page.getByLabel('Work e-mail address').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([page.waitForURL(/\/staff$/), page.getByRole('button', { name: 'Sign in' }).click()]);
  return { context, page };
}

/** Answers the session screen: every checklist question no, earplugs fitted. */
async function fillSession(p) {
  for (const q of CHECKLIST) {
    await p.getByRole('group', { name: q, exact: true }).getByLabel('No').check();
  }
  await p.getByLabel('Earplugs are fitted for the patient').check();
}

test('a safety flag stops the session at the chair until a clinician has reviewed it', async () => {
  const now = new Date().toISOString();
  const { id: patient } = await api('/api/v1/staff/patients', { name: 'Opal Reyes', date_of_birth: '1984-02-11' });
  const { id: course } = await api(`/api/v1/staff/patients/${patient}/courses`,
    // Yesterday in UTC: today or yesterday in the clinic's zone, never tomorrow.
    { protocol: '10hz', start_date: new Date(Date.now() - 86400e3).toISOString().slice(0, 10) });
  // Before any session: consent, the signed safety screen and the physician's order.
  const yesterday = new Date(Date.now() - 86400e3).toISOString().slice(0, 10);
  await api(`/api/v1/staff/courses/${course}/consent`, { consented_at: yesterday, consent_version: 'TMS consent 2026-1' });
  await api(`/api/v1/staff/courses/${course}/safety-screen`, { answers: { seizures: false, metal_in_head: false,
    implanted_devices: false, head_injury: false, brain_surgery: false, pregnancy: false, previous_tms_problems: false, bipolar: false } });
  await api(`/api/v1/staff/courses/${course}/order`, { intensity_percent_mt: 120, pulses: 3000, sessions_per_day: 1,
    min_spacing_minutes: 0, planned_sessions: 36, target: 'left-dlpfc' });
  await api(`/api/v1/staff/courses/${course}/motor-thresholds`, { determined_at: now, percent_output: 55, method: 'emg' });
  await api(`/api/v1/staff/courses/${course}/check-ins`, { instrument: 'phq9', answers: [2, 2, 2, 2, 2, 2, 2, 2, 1] });

  // The technician at the chair: the flag is there, in words.
  const tech = await signedIn(TECHNICIAN);
  const p = tech.page;
  await p.goto(`${base}/staff/courses/${course}/session`);
  const flag = p.locator('#safety-flag');
  assert.match(await flag.innerText(), /Safety review needed: question 9 answered above 0 on \d{4}-\d{2}-\d{2}/);
  await expectNoAxeViolations(p, 'session screen with a safety flag');
  await fillSession(p);
  await Promise.all([p.waitForLoadState('load'), p.getByRole('button', { name: 'Record the session' }).click()]);
  const refusal = p.locator('.error-summary[role="alert"]');
  assert.match(await refusal.innerText(), /This session may not be given/);
  assert.match(await refusal.innerText(), /a clinician must review the answer to question 9 of \d{4}-\d{2}-\d{2} before the next session/);
  const [stopBox, formBox] = [await refusal.boundingBox(), await p.locator('form.session-form').boundingBox()];
  assert.ok(stopBox.y < formBox.y, 'the refusal is above the form');
  await expectNoAxeViolations(p, 'session screen refused for the safety review');

  // The clinician records the review from the patient's record.
  const doc = await signedIn(CLINICIAN);
  const d = doc.page;
  await d.goto(`${base}/staff/patients/${patient}`);
  assert.match(await d.locator('#safety-flag').innerText(), /Safety review needed/);
  await expectNoAxeViolations(d, 'patient page with a safety flag');
  await Promise.all([d.waitForURL(/safety-review$/), d.getByRole('link', { name: 'Record the safety review' }).click()]);
  await expectNoAxeViolations(d, 'safety review form');
  for (const q of ['Wished to be dead or to not wake up', 'Any thoughts of killing themselves',
    'Thoughts with a method in mind, no plan or intent', 'Thoughts with some intent to act',
    'Thoughts with a worked-out plan and intent', 'Any suicidal behavior in the last 3 months']) {
    await d.getByRole('group', { name: q, exact: true }).getByLabel('No').check();
  }
  await d.getByLabel('Outcome').selectOption('continue');
  await d.getByLabel('Note').fill('Seen in person: passive thoughts only, safety plan agreed.');
  await Promise.all([d.waitForURL(new RegExp(`/staff/patients/${patient}\\?done=safety-review$`)), d.getByRole('button', { name: 'Record the review and clear the flag' }).click()]);
  assert.equal(await d.locator('#safety-flag').count(), 0, 'the flag is cleared');
  assert.match(await d.locator('main').innerText(), /Safety reviews/);
  await expectNoAxeViolations(d, 'patient page after the review');
  await doc.context.close();

  // Back at the chair: the session goes through.
  await p.goto(`${base}/staff/courses/${course}/session`);
  assert.equal(await p.locator('#safety-flag').count(), 0);
  await fillSession(p);
  await Promise.all([
    p.waitForURL(/\/staff\/courses\/\d+\?done=session$/).catch(async () => assert.fail(await p.locator('main').innerText())),
    p.getByRole('button', { name: 'Record the session' }).click(),
  ]);
  assert.match(await p.locator('main').innerText(), /The session is recorded/);
  await expectNoAxeViolations(p, 'course page after the session');
  await tech.context.close();
});
