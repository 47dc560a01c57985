/**
 * A real browser for UI tests: Debian's Chromium driven by `playwright-core` (no browser download).
 * `.ci/run` installs Chromium when it is missing; without it the UI tests are skipped with a note.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Where Debian's `chromium` package puts the browser (override with `SLUICE_TEST_CHROMIUM`). */
export const CHROMIUM_PATH = process.env.SLUICE_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** True when the browser is installed. */
export const hasChromium = existsSync(CHROMIUM_PATH);

/** Launches headless Chromium with the flags a container needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
