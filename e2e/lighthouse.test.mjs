// Lighthouse (with Debian's Chromium) on the home page, a post and the PHQ-9
// form: accessibility 100, SEO 100, best practices at least 95.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = process.env.E2E_BIN ?? '../target/debug/activepath';
let server, base, dataDir;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'activepath-lh-'));
  const env = { ...process.env, RUST_LOG: 'warn' };
  delete env.DATABASE_URL;
  server = spawn(BIN, ['serve', '--bind', '127.0.0.1:0', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: server.stdout }).once('line', resolve);
    server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  base = line.trim().split(' ').pop();
});

after(() => {
  server?.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Runs Lighthouse on `path` and returns its category scores (0-100). */
export function lighthouse(url, outFile) {
  execFileSync(process.execPath, [
    'node_modules/lighthouse/cli/index.js', url,
    '--output=json', `--output-path=${outFile}`, '--quiet',
    '--only-categories=accessibility,seo,best-practices,performance',
    '--chrome-flags=--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync',
  ], { env: { ...process.env, CHROME_PATH: '/usr/bin/chromium' }, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });
  const report = JSON.parse(readFileSync(outFile, 'utf8'));
  const scores = Object.fromEntries(Object.entries(report.categories).map(([k, v]) => [k, Math.round(v.score * 100)]));
  const failing = Object.values(report.categories).flatMap((cat) => cat.auditRefs
    .filter((ref) => ref.weight > 0 && report.audits[ref.id].score !== null && report.audits[ref.id].score < 1)
    .map((ref) => `${cat.id}/${ref.id}`));
  return { scores, failing };
}

for (const path of ['/', '/blog/understanding-your-phq-9-score', '/assessment/phq9']) {
  test(`Lighthouse on ${path}`, () => {
    const { scores, failing } = lighthouse(base + path, join(dataDir, 'lh.json'));
    console.log(`# lighthouse ${path} ${JSON.stringify(scores)}`);
    assert.equal(scores.accessibility, 100, `accessibility on ${path}: ${failing}`);
    assert.equal(scores.seo, 100, `SEO on ${path}: ${failing}`);
    assert.ok(scores['best-practices'] >= 95, `best practices on ${path}: ${failing}`);
  });
}
