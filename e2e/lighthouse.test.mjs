// Lighthouse (with Debian's Chromium) on the home page, a post, the team page
// and the PHQ-9 form, with the demo images in place: accessibility 100, SEO
// 100, best practices and performance at least 95.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from './server.mjs';

let server;

before(async () => {
  server = await startServer();
});

after(() => server?.stop());

/** Runs Lighthouse once on `url`; returns the parsed report. */
function runLighthouse(url, outFile) {
  execFileSync(process.execPath, [
    'node_modules/lighthouse/cli/index.js', url,
    '--output=json', `--output-path=${outFile}`, '--quiet',
    '--only-categories=accessibility,seo,best-practices,performance',
    '--chrome-flags=--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync',
  ], { env: { ...process.env, CHROME_PATH: '/usr/bin/chromium' }, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });
  return JSON.parse(readFileSync(outFile, 'utf8'));
}

/** Runs Lighthouse on `url`; returns its category scores (0-100) and the
 *  audits that fell short. Lighthouse sometimes fails to record a page load
 *  on a busy machine (NO_NAVSTART and similar runtime errors): such a run
 *  says nothing about the page, so it is repeated, up to three times. */
function lighthouse(url, outFile) {
  let report;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      report = runLighthouse(url, outFile);
      if (!report.runtimeError) break;
      console.log(`# lighthouse run ${attempt} on ${url}: ${report.runtimeError.code}, retrying`);
    } catch (e) {
      if (attempt === 3) throw e;
      console.log(`# lighthouse run ${attempt} on ${url} failed (${e.message.split('\n')[0]}), retrying`);
    }
  }
  assert.ok(!report.runtimeError, `Lighthouse could not measure ${url}: ${report.runtimeError?.message}`);
  const scores = Object.fromEntries(Object.entries(report.categories).map(([k, v]) => [k, Math.round(v.score * 100)]));
  const failing = Object.values(report.categories).flatMap((cat) => cat.auditRefs
    .filter((ref) => ref.weight > 0 && report.audits[ref.id].score !== null && report.audits[ref.id].score < 1)
    .map((ref) => `${cat.id}/${ref.id}`));
  return { scores, failing };
}

for (const path of ['/', '/blog/understanding-your-phq-9-score', '/team', '/assessment/phq9']) {
  test(`Lighthouse on ${path}`, () => {
    const { scores, failing } = lighthouse(server.base + path, join(server.dataDir, 'lh.json'));
    console.log(`# lighthouse ${path} ${JSON.stringify(scores)}`);
    assert.equal(scores.accessibility, 100, `accessibility on ${path}: ${failing}`);
    assert.equal(scores.seo, 100, `SEO on ${path}: ${failing}`);
    assert.ok(scores['best-practices'] >= 95, `best practices on ${path}: ${failing}`);
    assert.ok(scores.performance >= 95, `performance on ${path}: ${failing}`);
  });
}
