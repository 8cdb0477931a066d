// Every page, light and dark, desktop and phone: no serious or critical
// axe-core findings (WCAG 2.1 A/AA and best practice, contrast included),
// nothing wider than the screen, no CSP violation or page error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, axe, noProblems, seedScene, pagesOf, openPage, PHONE, DESKTOP } from './lib.mjs';

let browser;
let ids;
before(async () => { browser = await launch(); ids = await seedScene(); });
after(async () => { await browser.close(); });

for (const colorScheme of ['light', 'dark']) {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    test(`every page, ${colorScheme}, ${size}`, { timeout: 600000 }, async () => {
      for (const pg of pagesOf(ids)) {
        const { context, page } = await openPage(browser, pg, { colorScheme, viewport });
        assert.deepEqual(await axe(page), [], `${pg.name}: axe findings`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `${pg.name} is ${overflow}px wider than the viewport`);
        noProblems(assert, page);
        await context.close();
      }
    });
  }
}
