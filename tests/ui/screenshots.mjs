// Screenshots of every page, light and dark, desktop and phone, for
// docs/ui.md.  Run by scripts/screenshots.sh (which starts the daemon and
// sets JG_UI_URL / JG_UI_ENV as the tests do):
//   node screenshots.mjs OUTDIR
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch, seedScene, pagesOf, openPage, PHONE, DESKTOP } from './lib.mjs';

const out = process.argv[2];
if (!out) {
  console.error('usage: node screenshots.mjs OUTDIR');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const browser = await launch();
try {
  const ids = await seedScene();
  for (const pg of pagesOf(ids)) {
    for (const colorScheme of ['light', 'dark']) {
      for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
        const { context, page } = await openPage(browser, pg, { colorScheme, viewport });
        // settle: relative times and the approvals count
        await page.waitForTimeout(300);
        const file = join(out, `${pg.name}-${colorScheme}-${size}.png`);
        await page.screenshot({ path: file, fullPage: true });
        console.log(file);
        await context.close();
      }
    }
  }
} finally {
  await browser.close();
}
