// Renders the demo illustrations (content/media-src/*.svg) to the PNG files
// the demo content uses (content/media/). Run by hand after editing a drawing:
//   cd e2e && node render-media.mjs
import { chromium } from 'playwright-core';
import fs from 'node:fs';

const src = new URL('../crates/activepath/content/media-src/', import.meta.url).pathname;
const out = new URL('../crates/activepath/content/media/', import.meta.url).pathname;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
for (const file of fs.readdirSync(src).filter((f) => f.endsWith('.svg'))) {
  const svg = fs.readFileSync(src + file, 'utf8').replace('<svg ', '<svg width="1600" height="1000" ');
  await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
  await page.screenshot({ path: out + file.replace('.svg', '.png'), clip: { x: 0, y: 0, width: 1600, height: 1000 } });
}
await browser.close();
