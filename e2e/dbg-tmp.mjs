import { chromium } from 'playwright-core';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless','--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
await page.goto('http://127.0.0.1:8099/');
console.log(await page.evaluate(() => [...document.querySelectorAll('.header-row, .brand, .site-header nav, .site-header ul')].map(e => e.className + ' ' + e.tagName + ' ' + JSON.stringify(e.getBoundingClientRect()))));
await browser.close();
