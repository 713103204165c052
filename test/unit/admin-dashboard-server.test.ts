// The dashboard over real HTTP on 127.0.0.1, fed by a stand-in coordinator: the page and its files
// are served from the package (uPlot included) under a strict Content-Security-Policy; the event
// stream greets each page with the whole state, pushes a sample every interval and a view change at
// once; pages beyond the limit get 503, and a page that stops reading is dropped.

import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { after, before, test } from 'node:test';
import { AdminServer } from '../../src/admin/admin-server.js';
import { Dashboard, type DashboardSource } from '../../src/admin/dashboard/dashboard.js';
import type { DashboardLimits } from '../../src/admin/dashboard/dashboard-limits.js';
import type { DashboardMessage } from '../../src/admin/dashboard/dashboard-state.js';
import { EventStream } from '../../src/admin/dashboard/event-stream.js';
import type { CoordinatorInspection } from '../../src/node/coordinator-server.js';
import { inspection } from './dashboard-fixtures.js';

/** Tiny limits, so that the bounds are reached in a test. */
const limits: DashboardLimits = {
  sampleIntervalMs: 100,
  samplesMax: 5,
  timelineEventsMax: 5,
  streamClientsMax: 2,
  streamBufferedBytesMax: 64 * 1024,
  scrapeTimeoutMs: 50,
};

/** Polls `probe` until it gives a value (within 10 s: generous, on a loaded machine). */
async function waitFor<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A coordinator stand-in whose view the test changes. */
class FakeCoordinator implements DashboardSource {
  current = inspection({
    view: { number: 1, primary: 'r1', backups: ['r2', 'r3'] },
    commitIndex: { r1: 10 },
  });
  readonly listeners = new Set<() => void>();
  /** How often the dashboard looked: once a sample (and once a message, while a page is open). */
  inspections = 0;

  inspect(): CoordinatorInspection {
    this.inspections += 1;
    return this.current;
  }

  onViewChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  change(next: CoordinatorInspection): void {
    this.current = next;
    for (const listener of this.listeners) listener();
  }
}

const coordinator = new FakeCoordinator();
let dashboard: Dashboard;
let server: AdminServer;

before(async () => {
  dashboard = new Dashboard(coordinator, { limits });
  server = await AdminServer.start('127.0.0.1:0', dashboard.routes, { onClose: () => dashboard.close() });
});

after(() => server.close());

interface Answer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

function ask(path: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(`http://${server.address}${path}`, { method }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** A page following the event stream: every `data:` line, parsed. */
class StreamReader {
  readonly messages: DashboardMessage[] = [];
  status = 0;
  ended = false;
  private response: IncomingMessage | null = null;

  static open(path = '/events', address = server.address): Promise<StreamReader> {
    const reader = new StreamReader();
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(`http://${address}${path}`, (response) => {
        reader.response = response;
        reader.status = response.statusCode ?? 0;
        let pending = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          pending += chunk;
          const frames = pending.split('\n\n');
          pending = frames.pop() ?? '';
          for (const frame of frames) {
            if (frame.startsWith('data: ')) reader.messages.push(JSON.parse(frame.slice('data: '.length)));
          }
        });
        response.on('close', () => {
          reader.ended = true;
        });
        resolve(reader);
      });
      outgoing.on('error', reject);
      outgoing.end();
    });
  }

  close(): void {
    this.response?.destroy();
  }
}

test('the page, its script and style, and uPlot are served from the package, under a strict policy', async () => {
  const page = await ask('/');
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  const policy = String(page.headers['content-security-policy']);
  for (const rule of ["default-src 'none'", "script-src 'self'", "connect-src 'self'"]) {
    assert.ok(policy.includes(rule), rule);
  }
  assert.match(page.body, /<script src="uplot\.js" defer><\/script>/);
  assert.match(page.body, /<script src="dashboard\.js" defer><\/script>/);
  assert.doesNotMatch(page.body, /https?:\/\//, 'nothing is loaded from elsewhere');
  const files: [string, RegExp, RegExp][] = [
    ['/dashboard.js', /^text\/javascript/, /new EventSource\('events'\)/],
    ['/dashboard.css', /^text\/css/, /\.lag-fill/],
    ['/uplot.js', /^text\/javascript/, /uPlot/],
    ['/uplot.css', /^text\/css/, /\.uplot/],
  ];
  for (const [path, type, content] of files) {
    const answer = await ask(path);
    assert.equal(answer.status, 200, path);
    assert.match(String(answer.headers['content-type']), type, path);
    assert.match(answer.body, content, path);
  }
});

test('a page is greeted with the whole state, then gets a sample each interval and a view change at once', async () => {
  const page = await StreamReader.open();
  try {
    assert.equal(page.status, 200);
    const greeting = await waitFor('the greeting', () => page.messages[0]);
    assert.equal(greeting.full, true);
    assert.equal(greeting.status.view?.primary, 'r1');
    assert.equal(greeting.timeline[0]?.kind, 'current');
    assert.equal(greeting.samplesMax, limits.samplesMax);
    await waitFor('a sample', () =>
      page.messages.find((message) => !message.full && message.samples.length === 1),
    );

    const before = page.messages.length;
    coordinator.change(
      inspection({
        view: { number: 2, primary: 'r2', backups: ['r3'] },
        commitIndex: { r1: 10, r2: 12 },
        primariesReplaced: 1,
        dead: ['r1'],
      }),
    );
    // Pushed by the view change itself, before any sample could carry it (a sample the server sent
    // before the change may still arrive first on a busy machine: the first message telling it).
    const pushed = await waitFor('the view change', () =>
      page.messages.slice(before).find((message) => message.timeline[0]?.kind === 'failover'),
    );
    assert.deepEqual(pushed.samples, []);
    assert.equal(pushed.timeline[0]?.kind, 'failover');
    assert.equal(pushed.timeline[0]?.previousPrimary, 'r1');
    assert.equal(pushed.status.view?.primary, 'r2');
    assert.equal(pushed.status.failovers, 1);

    // A page that connects now gets the kept history: both events, at most samplesMax samples.
    await waitFor('samples to pass the limit', () =>
      page.messages.filter((message) => message.samples.length > 0).length > limits.samplesMax
        ? true
        : undefined,
    );
    const late = await StreamReader.open();
    try {
      const whole = await waitFor('the late greeting', () => late.messages[0]);
      assert.deepEqual(
        whole.timeline.map((event) => event.kind),
        ['current', 'failover'],
      );
      assert.equal(whole.samples.length, limits.samplesMax);
    } finally {
      late.close();
    }
  } finally {
    page.close();
  }
});

test('pages beyond the limit are refused with 503; a HEAD gets the stream type and no body', async () => {
  await waitFor('earlier pages to be gone', () => (dashboard.pages === 0 ? true : undefined));
  const pages = [await StreamReader.open(), await StreamReader.open()];
  try {
    await waitFor('both pages to be counted', () => (dashboard.pages === 2 ? true : undefined));
    const third = await ask('/events');
    assert.equal(third.status, 503);
    assert.match(third.body, /at most 2/);
    const head = await ask('/events', 'HEAD');
    assert.equal(head.status, 200);
    assert.match(String(head.headers['content-type']), /^text\/event-stream/);
    assert.equal(head.body, '');
  } finally {
    for (const page of pages) page.close();
  }
  await waitFor('the closed pages to be forgotten', () => (dashboard.pages === 0 ? true : undefined));
});

test('a page that stops reading is dropped once its unsent messages pass the limit; one that reads stays', async () => {
  const stream = new EventStream({ clientsMax: 4, bufferedBytesMax: 64 * 1024 }, () => '{}');
  const streamServer = await AdminServer.start('127.0.0.1:0', [stream.route('/s')]);
  const open = (paused: boolean) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const outgoing = httpRequest(`http://${streamServer.address}/s`, (response) => {
        if (paused) response.pause();
        else response.resume(); // reads and discards
        resolve(response);
      });
      outgoing.on('error', reject);
      outgoing.end();
    });
  const stuck = await open(true);
  const reading = await open(false);
  try {
    await waitFor('both pages', () => (stream.clientCount === 2 ? true : undefined));
    const message = JSON.stringify({ filler: 'x'.repeat(256 * 1024) });
    // The kernel's socket buffers take a few megabytes first; the limit is on what Node holds after.
    for (let sent = 0; sent < 400 && stream.dropped === 0; sent++) {
      stream.broadcast(message);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    assert.equal(stream.dropped, 1);
    assert.equal(stream.clientCount, 1, 'the reading page stays');
  } finally {
    stuck.destroy();
    reading.destroy();
    stream.close();
    await streamServer.close();
  }
});

test('closing the admin server stops the dashboard: no timer, no view watcher, streams ended', async () => {
  const source = new FakeCoordinator();
  const own = new Dashboard(source, { limits });
  const ownServer = await AdminServer.start('127.0.0.1:0', own.routes, { onClose: () => own.close() });
  assert.equal(source.listeners.size, 1);
  await ownServer.close();
  assert.equal(source.listeners.size, 0);
  assert.equal(own.pages, 0);
});

test("replicas' /metrics are read only while a page is open, and a reading is compared with the one just before", async () => {
  const source = new FakeCoordinator();
  let scrapes = 0;
  const writes = [
    'understudy_request_duration_seconds_bucket{le="0.001",op="write",durability="sync"} 4',
    'understudy_request_duration_seconds_bucket{le="+Inf",op="write",durability="sync"} 4',
  ].join('\n');
  const own = new Dashboard(source, {
    limits,
    replicaAdmins: ['127.0.0.1:1'],
    fetchMetrics: async () => {
      scrapes += 1;
      return writes;
    },
  });
  const ownServer = await AdminServer.start('127.0.0.1:0', own.routes, { onClose: () => own.close() });
  try {
    const ticks = (count: number) => {
      const target = source.inspections + count;
      return waitFor(`${count} samples`, () => (source.inspections >= target ? true : undefined));
    };
    await ticks(3);
    assert.equal(scrapes, 0, 'no page, no scrape');
    const page = await StreamReader.open('/events', ownServer.address);
    const greeting = await waitFor('the greeting', () => page.messages[0]);
    assert.deepEqual(greeting.status.latencySource, { addresses: 1, reachable: null });
    // Two readings a sample apart: the same counts, so a second with no writes (known, not unknown).
    const sample = await waitFor('a sample with latency', () =>
      page.messages.flatMap((message) => message.samples).find((each) => each.writes !== null),
    );
    assert.equal(sample.writes, 0);
    assert.ok(page.messages.some((message) => message.status.latencySource?.reachable === 1));
    page.close();
    await waitFor('the page to be gone', () => (own.pages === 0 ? true : undefined));
    const afterClose = scrapes;
    await ticks(3);
    assert.ok(scrapes <= afterClose + 1, 'at most a reading already under way');
  } finally {
    await ownServer.close();
  }
});
