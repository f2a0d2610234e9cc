import { chromium } from 'playwright-core';
const [url, out, width, full] = [process.argv[2], process.argv[3], +process.argv[4], process.argv[5] === 'full'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless','--no-sandbox','--disable-gpu','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync'] });
const page = await browser.newPage({ viewport: { width, height: width < 500 ? 844 : 800 }, deviceScaleFactor: 1 });
await page.goto(url);
await page.screenshot({ path: out, fullPage: full });
const sw = await page.evaluate(() => document.documentElement.scrollWidth);
console.log('scrollWidth', sw);
await browser.close();
