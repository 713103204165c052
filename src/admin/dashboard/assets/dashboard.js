// The dashboard page's script: follows the coordinator's event stream (`events`, server-sent events)
// and draws what each message says (the fields are those of src/admin/dashboard/dashboard-state.ts).
// Every string from the cluster (replica ids, addresses, problems) reaches the page through
// textContent or an attribute value, never as HTML, so a replica named like a tag stays text.
// No framework, no build step: this file is served as it is.

(() => {
  /** A lag of this many entries fills its bar; the scale is logarithmic below it. */
  const lagFullEntries = 1_000_000;
  /** With no message for this many sample intervals, the page says it is not up to date. */
  const staleAfterIntervals = 3;
  /** The charts show at least this much time, so a young cluster's few samples are not stretched. */
  const chartWindowMinSeconds = 60;

  const state = {
    samples: [],
    timeline: [],
    sampleIntervalMs: 1000,
    samplesMax: 300,
    timelineEventsMax: 200,
    lastMessageAt: 0,
    /** The coordinator's time of the last status, in seconds: the charts end there. */
    statusAtSeconds: 0,
    charts: null,
  };

  const byId = (id) => {
    const element = document.getElementById(id);
    if (element === null) throw new Error(`the page has no #${id}`);
    return element;
  };

  /** A new element with text content (never parsed as HTML) and optional class. */
  function element(tag, text, className) {
    const made = document.createElement(tag);
    if (text !== undefined) made.textContent = String(text);
    if (className !== undefined) made.className = className;
    return made;
  }

  const numberFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const decimalFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  const formatCount = (value) => (typeof value === 'number' ? numberFormat.format(value) : '–');
  const formatTime = (at) => new Date(at).toLocaleTimeString('en-GB', { hour12: false });
  const formatMs = (value) => (typeof value === 'number' ? `${decimalFormat.format(value)} ms` : '–');
  const listOrDash = (ids) => (Array.isArray(ids) && ids.length > 0 ? ids.join(', ') : '–');

  function setConnection(kind, text) {
    const connection = byId('connection');
    connection.dataset.state = kind;
    connection.textContent = text;
  }

  // ---- the view and the counters -------------------------------------------------------------

  function renderStatus(status) {
    const view = status.view;
    byId('view-number').textContent = view === null ? 'none yet' : String(view.number);
    byId('view-primary').textContent = view === null ? '–' : view.primary;
    byId('view-backups').textContent = view === null ? '–' : listOrDash(view.backups);
    byId('view-learners').textContent = view === null ? '–' : listOrDash(view.learners);
    byId('commit-index').textContent = formatCount(status.commitIndex);
    byId('count-views').textContent = formatCount(status.viewsInstalled);
    byId('count-failovers').textContent = formatCount(status.failovers);
    byId('count-switchovers').textContent = formatCount(status.switchovers);
    byId('count-async-lost').textContent = formatCount(status.asyncLost);
    const problem = byId('problem');
    problem.hidden = status.problem === null;
    problem.textContent = status.problem === null ? '' : `Coordinator: ${status.problem}`;
    renderReplicas(status.replicas);
    renderLatencySource(status.latencySource);
  }

  // ---- replicas and lag bars -----------------------------------------------------------------

  function lagBar(label, behind, alive) {
    const wrapper = element('div', undefined, 'lag');
    const track = element('div', undefined, 'lag-track');
    const fill = element('div', undefined, 'lag-fill');
    const fraction =
      typeof behind === 'number' && behind > 0
        ? Math.min(1, Math.log10(1 + behind) / Math.log10(1 + lagFullEntries))
        : 0;
    // CSSOM, not a style attribute: the page's Content-Security-Policy allows no inline style.
    fill.style.width = `${(fraction * 100).toFixed(1)}%`;
    fill.dataset.level = !alive ? 'down' : behind > 0 ? 'behind' : 'even';
    track.append(fill);
    wrapper.append(
      element('span', label, 'lag-label'),
      track,
      element('span', formatCount(behind), 'lag-value'),
    );
    wrapper.title = `${label}: ${formatCount(behind)} committed entries behind`;
    return wrapper;
  }

  function renderReplicas(replicas) {
    const body = byId('replicas').tBodies[0];
    const rows = replicas.map((replica) => {
      const row = element('tr');
      row.dataset.replica = replica.id;
      row.dataset.role = replica.role;
      row.dataset.alive = String(replica.alive);
      const id = element('td', replica.id, 'replica-id');
      id.append(element('div', replica.address, 'address'));
      if (replica.redisAddress !== null)
        id.append(element('div', `Redis ${replica.redisAddress}`, 'address redis'));
      const role = element('td');
      const badge = element('span', replica.role, 'role');
      badge.dataset.role = replica.role;
      role.append(badge);
      if (replica.transfer !== null) {
        const { receivedBytes, totalBytes } = replica.transfer;
        const percent = totalBytes > 0 ? Math.floor((100 * receivedBytes) / totalBytes) : 0;
        role.append(element('div', `receiving a snapshot: ${percent} %`, 'note'));
      }
      const alive = element('td', replica.alive ? 'yes' : 'no', replica.alive ? 'alive' : 'dead');
      if (replica.problem !== null) alive.append(element('div', replica.problem, 'note'));
      const lags = element('td', undefined, 'lags');
      lags.append(
        lagBar('disk', replica.durableBehind, replica.alive),
        lagBar('applied', replica.appliedBehind, replica.alive),
      );
      row.append(
        id,
        role,
        alive,
        element('td', formatCount(replica.durableIndex), 'number'),
        element('td', formatCount(replica.appliedIndex), 'number'),
        lags,
      );
      return row;
    });
    body.replaceChildren(...rows);
  }

  // ---- charts ----------------------------------------------------------------------------------

  /** Dashed vertical lines on a chart at each failover (red) and switchover (blue). */
  function viewChangeMarkers() {
    const colours = { failover: '#c53030', switchover: '#2b6cb0' };
    return {
      hooks: {
        draw: [
          (chart) => {
            const { ctx, bbox } = chart;
            ctx.save();
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
            for (const event of state.timeline) {
              const colour = colours[event.kind];
              if (colour === undefined) continue;
              const x = chart.valToPos(event.at / 1000, 'x', true);
              if (x < bbox.left || x > bbox.left + bbox.width) continue;
              ctx.strokeStyle = colour;
              ctx.beginPath();
              ctx.moveTo(x, bbox.top);
              ctx.lineTo(x, bbox.top + bbox.height);
              ctx.stroke();
            }
            ctx.restore();
          },
        ],
      },
    };
  }

  function chartOptions(container, series) {
    return {
      width: Math.max(280, container.clientWidth),
      height: 200,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: {
          time: true,
          range: (_chart, min, max) => {
            const end = Math.max(Number.isFinite(max) ? max : 0, state.statusAtSeconds);
            const start = Number.isFinite(min)
              ? Math.min(min, end - chartWindowMinSeconds)
              : end - chartWindowMinSeconds;
            return [start, end];
          },
        },
        y: { range: (_chart, _min, max) => [0, Math.max(1, (Number.isFinite(max) ? max : 0) * 1.1)] },
      },
      series: [{}, ...series],
      // Clock times only (the page is about the last minutes), spaced so that they never overlap.
      axes: [{ space: 70, values: (_chart, ticks) => ticks.map((tick) => formatTime(tick * 1000)) }, {}],
      plugins: [viewChangeMarkers()],
    };
  }

  function makeCharts() {
    const throughput = byId('throughput-chart');
    const latency = byId('latency-chart');
    const charts = {
      throughput: new globalThis.uPlot(
        chartOptions(throughput, [
          { label: 'committed entries/s', stroke: '#2f855a', fill: 'rgba(47,133,90,0.12)', width: 2 },
        ]),
        [[], []],
        throughput,
      ),
      latency: new globalThis.uPlot(
        chartOptions(latency, [
          { label: 'p50', stroke: '#2b6cb0', width: 2 },
          { label: 'p99', stroke: '#c05621', width: 2 },
        ]),
        [[], [], []],
        latency,
      ),
    };
    window.addEventListener('resize', () => {
      charts.throughput.setSize({ width: Math.max(280, throughput.clientWidth), height: 200 });
      charts.latency.setSize({ width: Math.max(280, latency.clientWidth), height: 200 });
    });
    return charts;
  }

  function renderCharts() {
    if (globalThis.uPlot === undefined) return; // its script failed to load; the rest still works
    state.charts ??= makeCharts();
    const times = state.samples.map((sample) => sample.at / 1000);
    state.charts.throughput.setData([times, state.samples.map((sample) => sample.committedPerSecond)]);
    state.charts.latency.setData([
      times,
      state.samples.map((sample) => sample.writeP50Ms),
      state.samples.map((sample) => sample.writeP99Ms),
    ]);
    const last = state.samples.at(-1);
    byId('throughput-latest').textContent =
      last === undefined ? '–' : `last second: ${formatCount(last.committedPerSecond)} entries/s`;
    byId('latency-latest').textContent =
      last === undefined || last.writes === null
        ? 'last second: –'
        : last.writes === 0
          ? 'last second: no writes'
          : `last second: ${formatCount(last.writes)} writes, p50 ${formatMs(last.writeP50Ms)}, p99 ${formatMs(last.writeP99Ms)}`;
  }

  function renderLatencySource(source) {
    byId('latency-source').textContent =
      source === null
        ? 'No latency: the coordinator was started without --replica-admins (understudy start passes them).'
        : `From the request histograms in the /metrics of ${source.addresses} replica admin ports ` +
          `(${source.reachable === null ? 'not read yet' : `${source.reachable} answered last`}), read ` +
          'while a page is open; quantiles are estimated within histogram buckets.';
  }

  // ---- timeline --------------------------------------------------------------------------------

  const kindWords = {
    first: 'first view',
    current: 'view at coordinator start',
    failover: 'failover',
    switchover: 'switchover',
    reconfiguration: 'reconfiguration',
  };

  function renderTimeline() {
    const items = [...state.timeline].reverse().map((event) => {
      const item = element('li');
      item.dataset.kind = event.kind;
      const kind = element('span', kindWords[event.kind] ?? event.kind, 'kind');
      kind.dataset.kind = event.kind;
      const change =
        event.previousPrimary !== null && event.previousPrimary !== event.view.primary
          ? `primary ${event.view.primary} (was ${event.previousPrimary})`
          : `primary ${event.view.primary}`;
      item.append(
        element('time', formatTime(event.at)),
        kind,
        element('span', `view ${event.view.number}`, 'view'),
        element('span', change, 'primary'),
        element(
          'span',
          `backups ${listOrDash(event.view.backups)} · learners ${listOrDash(event.view.learners)}`,
          'members',
        ),
      );
      return item;
    });
    byId('timeline').replaceChildren(...items);
  }

  // ---- the stream ------------------------------------------------------------------------------

  function apply(message) {
    state.sampleIntervalMs = message.sampleIntervalMs;
    state.samplesMax = message.samplesMax;
    state.timelineEventsMax = message.timelineEventsMax;
    if (message.full) {
      state.samples = [...message.samples];
      state.timeline = [...message.timeline];
    } else {
      state.samples.push(...message.samples);
      state.timeline.push(...message.timeline);
      state.samples.splice(0, Math.max(0, state.samples.length - state.samplesMax));
      state.timeline.splice(0, Math.max(0, state.timeline.length - state.timelineEventsMax));
    }
    state.lastMessageAt = Date.now();
    state.statusAtSeconds = message.status.at / 1000;
    setConnection('live', `live · updated ${formatTime(message.status.at)}`);
    renderStatus(message.status);
    renderCharts();
    renderTimeline();
  }

  function connect() {
    const source = new EventSource('events');
    source.addEventListener('message', (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // not ours: ignore it rather than show something wrong
      }
      apply(message);
    });
    // EventSource reconnects by itself; the coordinator sends the whole state again when it does.
    source.addEventListener('error', () => setConnection('lost', 'connection lost · reconnecting…'));
    setInterval(() => {
      const silentMs = Date.now() - state.lastMessageAt;
      if (state.lastMessageAt > 0 && silentMs > staleAfterIntervals * state.sampleIntervalMs) {
        setConnection('stale', `no update for ${Math.round(silentMs / 1000)} s`);
      }
    }, 1000);
  }

  connect();
})();
