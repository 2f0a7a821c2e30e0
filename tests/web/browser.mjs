// Starts headless Chromium (the Debian package) through playwright-core with a fresh profile.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** A browser context with a fresh `--user-data-dir`; `close()` removes the profile. */
export async function launch({ width = 1280, height = 800, mobile = false, colorScheme = "light", bypassCSP = false } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "localgpt-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width, height },
    deviceScaleFactor: mobile ? 2 : 1,
    isMobile: mobile,
    hasTouch: mobile,
    colorScheme,
    bypassCSP,
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

/** Collects the page's console errors and failed requests, for failure reports. */
export function watch(page, log) {
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") log.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => log.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => {
    const failure = request.failure()?.errorText || "";
    if (!failure.includes("ERR_ABORTED")) log.push(`request failed: ${request.url()} ${failure}`);
  });
}
