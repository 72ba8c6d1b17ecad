// Drives Chromium with playwright-core for crates/sockeye-cli/tests/chromium.rs.
//
// Usage: node chromium.js CHROMIUM SCREENSHOT.png [--FLAG...] PAGE_URL...     (NODE_PATH must
// hold playwright-core)
//
// Launches CHROMIUM headless with a fresh profile and the flags of shared/PEERS.md (no network
// beyond 127.0.0.1: DNS is mapped to nothing, QUIC and background services are off), plus each
// argument that starts with "--" (such as --ignore-certificate-errors-spki-list=HASH), opens each
// page in turn, waits until its #status is "done" or "failed", and prints tab-separated lines:
//
//     status   INDEX  TEXT          the final #status of page INDEX
//     log      INDEX  LINE          each line of its #log, as the DOM shows it
//     console  INDEX  TEXT          what the page logged to the console (handshake errors go there)
//
// The first page is also saved as a PNG screenshot. Exits 0 when every page finished, 1 on an
// error, 3 after 90 s; the browser is closed and its profile removed in every case.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [executablePath, screenshot, ...rest] = process.argv.slice(2);
const extraFlags = rest.filter((arg) => arg.startsWith('--'));
const pages = rest.filter((arg) => !arg.startsWith('--'));
const emit = (...fields) => process.stdout.write(fields.join('\t') + '\n');
const STEP_MS = 20_000;

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sockeye-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [...FLAGS, ...extraFlags],
      timeout: STEP_MS,
    });
    for (const [index, url] of pages.entries()) {
      const page = await context.newPage();
      page.on('console', (message) => emit('console', index, message.text()));
      await page.goto(url, { timeout: STEP_MS });
      await page.waitForFunction(
        () => ['done', 'failed'].includes(document.getElementById('status').textContent),
        null,
        { timeout: STEP_MS },
      );
      emit('status', index, await page.textContent('#status'));
      const log = await page.textContent('#log');
      for (const line of log.split('\n').filter((line) => line.length > 0)) {
        emit('log', index, line);
      }
      if (index === 0) await page.screenshot({ path: screenshot });
      await page.close();
    }
  } finally {
    if (context) await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

setTimeout(() => {
  emit('error', 'gave up after 90 s');
  process.exit(3);
}, 90_000).unref();

main().then(
  () => process.exit(0),
  (err) => {
    emit('error', String(err.message).split('\n')[0]);
    process.exit(1);
  },
);
