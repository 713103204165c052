// The dashboard in a real browser: Debian's headless Chromium driven by playwright-core (which
// downloads no browser). A coordinator and three replicas run on 127.0.0.1, each replica with its own
// admin port so that the dashboard can chart write latency; the page must show the primary, then,
// after a kill -9 of the primary's process, the new primary and a failover in its timeline. A second
// test serves the page with replica ids that look like HTML and checks that they stay text.
// Screenshots go to a temporary folder (printed), or to $UNDERSTUDY_SCREENSHOT_DIR.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { AdminServer } from '../../src/admin/admin-server.js';
import { Dashboard } from '../../src/admin/dashboard/dashboard.js';
import { inspection } from '../unit/dashboard-fixtures.js';
import { adminAddressOf, freePorts, LocalCluster, waitFor } from './harness.js';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it); another with $CHROMIUM_PATH. */
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Generous: two cores shared with other work; nothing here waits a fixed time. */
const pageTimeoutMs = 60_000;

const screenshotDirectory =
  process.env.UNDERSTUDY_SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), 'understudy-dashboard-'));

// Without a browser the test cannot run: in CI that is a failure (.ci/run installs it), elsewhere a skip.
const skip =
  !existsSync(chromiumPath) && process.env.CI === undefined
    ? `no Chromium at ${chromiumPath}: apt-get install chromium, or set CHROMIUM_PATH`
    : false;

let browser: Browser | undefined;

before(async () => {
  if (skip !== false) return;
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // CI runs as root, where Chromium's sandbox cannot start; the page is our own, on loopback.
    chromiumSandbox: false,
  });
});

after(async () => {
  await browser?.close();
});

/** A page that records what went wrong in it: script errors, and console errors (CSP violations too). */
async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
  assert.ok(browser !== undefined, 'the browser started');
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  page.setDefaultTimeout(pageTimeoutMs);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  await page.goto(url);
  return { page, problems };
}

const textOf = async (page: Page, selector: string) =>
  (await page.locator(selector).first().textContent()) ?? '';

/**
 * Waits until `read` (something the page shows) satisfies `accept`, polling from here: the page
 * updates itself from its event stream. Returns what it read last.
 */
function waitForPage<T>(what: string, read: () => Promise<T>, accept: (value: T) => boolean): Promise<T> {
  return waitFor(
    what,
    async () => {
      const value = await read();
      return accept(value) ? value : undefined;
    },
    pageTimeoutMs,
  );
}

test('the dashboard shows the primary, then the new primary and a failover after kill -9 of the primary', {
  skip,
}, async (t) => {
  const admins = await freePorts(3);
  const ports = new Map(['r1', 'r2', 'r3'].map((id, k) => [id, admins[k]]));
  const replicaAdmin = (id: string) => `127.0.0.1:${ports.get(id)}`;
  const cluster = await LocalCluster.start(
    3,
    (id) => ['--admin', replicaAdmin(id), '--resp', '127.0.0.1:0'],
    ['--admin', '127.0.0.1:0', '--replica-admins', [...ports.keys()].map(replicaAdmin).join(',')],
  );
  let writing = true;
  let writer: Promise<void> = Promise.resolve();
  try {
    const { page, problems } = await openPage(`http://${adminAddressOf(cluster.coordinator)}/`);
    const first = await cluster.waitForView((view) => view.backups.length === 2);
    await waitForPage(
      'the page to show the primary',
      () => textOf(page, '#view-primary'),
      (shown) => {
        return shown === first.primary;
      },
    );
    assert.equal(
      await page.locator(`#replicas tr[data-replica="${first.primary}"]`).getAttribute('data-role'),
      'primary',
    );
    assert.match(await textOf(page, '#connection'), /^live/);
    // Each row names where Redis clients dial that replica, once its heartbeats said.
    await waitForPage(
      "the primary's Redis port",
      () => textOf(page, `#replicas tr[data-replica="${first.primary}"] .redis`),
      (shown) => /^Redis 127\.0\.0\.1:\d+$/.test(shown),
    );

    // Writes for the charts, until the test ends: bounded in count, and each waits for its answer.
    const client = await cluster.client();
    writer = (async () => {
      for (let number = 0; writing && number < 100_000; number++) {
        await client.put(`dashboard-${number % 100}`, `value-${number}`).catch(() => {});
      }
    })();
    // Latency comes from the replicas' /metrics: two scrapes with writes between them.
    await waitForPage(
      'a latency',
      () => textOf(page, '#latency-latest'),
      (shown) => /p50 \d/.test(shown),
    );
    await waitForPage(
      'a throughput',
      () => textOf(page, '#throughput-latest'),
      (shown) => {
        return /\d entries\/s/.test(shown);
      },
    );
    const before = join(screenshotDirectory, 'dashboard-before-failover.png');
    await page.screenshot({ path: before, fullPage: true });
    t.diagnostic(`screenshot: ${before}`);

    const primaryProcess = cluster.replicas.get(first.primary)?.child.pid;
    assert.ok(primaryProcess !== undefined);
    await cluster.kill(first.primary); // SIGKILL to that process id, and wait for it to exit
    t.diagnostic(`killed ${first.primary} (process ${primaryProcess}) with SIGKILL`);

    const next = await waitForPage(
      'the page to show a new primary',
      () => textOf(page, '#view-primary'),
      (shown) => shown !== first.primary && /^r\d$/.test(shown),
    );
    const failover = page.locator('#timeline li[data-kind="failover"]').first();
    await failover.waitFor();
    assert.match(
      (await failover.textContent()) ?? '',
      new RegExp(`primary ${next} \\(was ${first.primary}\\)`),
    );
    assert.ok(
      first.backups.some((backup) => backup === next),
      `${next} was a backup`,
    );
    assert.equal(await textOf(page, '#count-failovers'), '1');
    await waitForPage(
      'the old primary to show as not alive',
      () => page.locator(`#replicas tr[data-replica="${first.primary}"]`).getAttribute('data-alive'),
      (alive) => alive === 'false',
    );
    // The coordinator's own view agrees with the page.
    assert.equal((await cluster.status()).view?.primary, next);

    const afterFailover = join(screenshotDirectory, 'dashboard-after-failover.png');
    await page.screenshot({ path: afterFailover, fullPage: true });
    t.diagnostic(`screenshot: ${afterFailover}`);
    assert.deepEqual(problems, [], 'no script error, no blocked resource, no policy violation');
    await page.close();
  } finally {
    writing = false;
    await writer;
    await cluster.close();
  }
});

test('replica ids, addresses and problems that look like HTML are shown as text, never run', {
  skip,
}, async (t) => {
  const hostile = '<img src=x onerror="window.hacked=1">';
  const problem = '<script>window.hacked=2</script>';
  const view = { number: 4, primary: hostile, backups: ['r2'], learners: ['"><b>bold</b>'] };
  const stand = inspection({ view, commitIndex: { [hostile]: 9, r2: 7 }, dead: ['r2'] });
  const withProblem = {
    ...stand,
    status: {
      ...stand.status,
      problem,
      replicas: stand.status.replicas.map((replica) => ({
        ...replica,
        problem: replica.alive ? null : problem,
      })),
    },
  };
  const dashboard = new Dashboard({ inspect: () => withProblem, onViewChange: () => () => {} });
  const server = await AdminServer.start('127.0.0.1:0', dashboard.routes, {
    onClose: () => dashboard.close(),
  });
  try {
    const { page, problems } = await openPage(`http://${server.address}/`);
    await waitForPage(
      'the page to show the stand-in view',
      () => textOf(page, '#view-primary'),
      (shown) => {
        return shown === hostile;
      },
    );
    assert.equal(
      await page.locator('#replicas img, #replicas b, #timeline img, main img, main b').count(),
      0,
    );
    assert.equal(await page.evaluate('window.hacked'), undefined);
    assert.equal(await textOf(page, '#view-learners'), '"><b>bold</b>');
    assert.equal(await textOf(page, '#problem'), `Coordinator: ${problem}`);
    assert.ok((await textOf(page, '#replicas')).includes(problem));
    assert.ok((await textOf(page, '#timeline')).includes(hostile));
    mkdirSync(screenshotDirectory, { recursive: true });
    const shot = join(screenshotDirectory, 'dashboard-hostile-ids.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    await server.close();
  }
});
