/* fleetmq's live dashboard: polls the broker's JSON API and draws what an
 * operator asks first (who is connected, how much traffic, who is slow).
 *
 * No framework and no build step: the broker embeds this file as it is
 * (tools/embed_web.py). Everything shown that comes from clients (ids,
 * usernames, addresses) goes in through textContent, never as markup: a
 * client id is whatever a device chose to send.
 *
 * Sections: token, API calls, formatting, rates and plots, broker
 * numbers, client tables, start. */
'use strict';

(() => {
	const POLL_MS = 1000;          // /api/v1/broker: the rates' resolution
	const CLIENTS_POLL_MS = 5000;  // top clients: a list walk on every worker, so less often
	const WINDOW_MS = 5 * 60 * 1000; // the plots' span
	const REQUEST_TIMEOUT_MS = 8000; // a sanitizer build answers slowly; past this it is "not answering"
	const STALE_MS = 5000;         // no fresh numbers for this long: say so
	const TOKEN_KEY = 'fleetmq.token';
	const SEARCH_LIMIT = 20;

	const $ = (id) => document.getElementById(id);

	/* --- token ---------------------------------------------------------------- */

	// #token=... is for scripts and bookmarks; it is moved into session
	// storage and taken out of the address bar, so it does not stay in the
	// history or get copied along with the URL.
	function tokenFromHash() {
		const params = new URLSearchParams(location.hash.slice(1));
		const t = params.get('token');
		if (t === null)
			return;
		sessionStorage.setItem(TOKEN_KEY, t);
		history.replaceState(null, '', location.pathname + location.search);
	}

	const auth = { waiting: false };

	function token() {
		return sessionStorage.getItem(TOKEN_KEY) || '';
	}

	function askForToken() {
		if (auth.waiting)
			return;
		auth.waiting = true;
		$('token-why').textContent = token()
			? 'The broker refused the token this tab has. Enter the current one (its http_token option).'
			: 'This broker asks for a bearer token (its http_token option) to read its statistics.';
		$('token-panel').hidden = false;
		$('token-input').focus();
		setStatus('warn', 'waiting for an API token');
	}

	function tokenEntered(ev) {
		ev.preventDefault();
		const t = $('token-input').value.trim();
		if (!t)
			return;
		sessionStorage.setItem(TOKEN_KEY, t);
		$('token-input').value = '';
		$('token-panel').hidden = true;
		auth.waiting = false;
		pollBroker();
		pollTopClients();
	}

	/* --- API calls ------------------------------------------------------------ */

	// {status, body}: body is the parsed JSON of a 200 answer, else null.
	// A 401 opens the token form. Throws on a network error or a timeout.
	async function api(path) {
		const headers = {};
		if (token())
			headers.Authorization = 'Bearer ' + token();
		const ctl = new AbortController();
		const timer = setTimeout(() => ctl.abort(), REQUEST_TIMEOUT_MS);
		try {
			const r = await fetch(path, { headers, cache: 'no-store', signal: ctl.signal });
			if (r.status === 401)
				askForToken();
			return { status: r.status, body: r.ok ? await r.json() : null };
		} finally {
			clearTimeout(timer);
		}
	}

	/* --- formatting ------------------------------------------------------------- */

	const intFmt = new Intl.NumberFormat();
	const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

	const count = (n) => intFmt.format(n);

	function rate(n) {
		return n < 10 ? oneDecimal.format(n) : intFmt.format(Math.round(n));
	}

	// 1234 -> "1.2k": axis labels stay narrow.
	function compact(n) {
		const units = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
		for (const [size, suffix] of units)
			if (Math.abs(n) >= size)
				return oneDecimal.format(n / size) + suffix;
		return oneDecimal.format(n);
	}

	function bytes(n) {
		const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
		let i = 0;
		while (n >= 1024 && i < units.length - 1) {
			n /= 1024;
			i++;
		}
		return (i ? oneDecimal.format(n) : intFmt.format(n)) + ' ' + units[i];
	}

	function duration(s) {
		const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
		if (d)
			return `${d} d ${h} h ${m} min`;
		if (h)
			return `${h} h ${m} min`;
		return m ? `${m} min ${s % 60} s` : `${s} s`;
	}

	const PROTOCOLS = { 3: '3.1', 4: '3.1.1', 5: '5.0' };

	/* --- status line ------------------------------------------------------------ */

	const live = { lastOk: 0, lastOkTime: '' }; // the last good answer: performance.now(), clock text

	// The status text is a live region: it changes only when the state
	// does, so a screen reader hears "live" once, not every second (the
	// time of the last update is beside it, outside the region).
	function setStatus(level, text, time) {
		$('status-dot').className = 'dot ' + level;
		if ($('status-text').textContent !== text)
			$('status-text').textContent = text;
		$('status-time').textContent = time ? '· updated ' + time : '';
	}

	/* --- rates and plots ------------------------------------------------------- */

	// Rates are counter differences between two polls over the time between
	// them; a null point is a gap (a failed poll, or counters that went
	// back: the broker restarted), drawn as a break in the line.
	const history_ = { prev: null, points: [] };

	function counters(b) {
		const m = b.messages;
		return {
			t: performance.now(),
			started: b.started_at_ms,
			msgIn: m.received.total, msgOut: m.sent.total,
			bytesIn: m.bytes_received, bytesOut: m.bytes_sent,
		};
	}

	function addSample(c) {
		const p = history_.prev;
		history_.prev = c;
		if (!p)
			return;
		const dt = (c.t - p.t) / 1000;
		const restarted = c.started !== p.started || c.msgIn < p.msgIn || c.msgOut < p.msgOut;
		history_.points.push(restarted || dt <= 0 ? { t: c.t, gap: true } : {
			t: c.t,
			msgIn: (c.msgIn - p.msgIn) / dt, msgOut: (c.msgOut - p.msgOut) / dt,
			bytesIn: (c.bytesIn - p.bytesIn) / dt, bytesOut: (c.bytesOut - p.bytesOut) / dt,
		});
		trimHistory(c.t);
	}

	function addGap() {
		history_.prev = null; // the next rate would span the outage
		history_.points.push({ t: performance.now(), gap: true });
		trimHistory(performance.now());
	}

	function trimHistory(now) {
		const pts = history_.points;
		while (pts.length && pts[0].t < now - WINDOW_MS)
			pts.shift();
	}

	// A step of 1, 2 or 5 times a power of ten, at least x.
	function niceStep(x) {
		if (!(x > 0))
			return 1;
		const p = Math.pow(10, Math.floor(Math.log10(x)));
		for (const f of [1, 2, 5])
			if (f * p >= x)
				return f * p;
		return 10 * p;
	}

	const SVG_NS = 'http://www.w3.org/2000/svg';

	function svgEl(parent, name, attrs, text) {
		const e = document.createElementNS(SVG_NS, name);
		for (const k in attrs)
			e.setAttribute(k, attrs[k]);
		if (text !== undefined)
			e.textContent = text;
		parent.appendChild(e);
		return e;
	}

	// The plot area inside the svg, in its own pixels (the viewBox follows
	// the element's size, so text is never stretched).
	function plotFrame(svg) {
		const w = Math.max(svg.clientWidth, 200), h = Math.max(svg.clientHeight, 120);
		svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
		return { w, h, left: 52, right: w - 10, top: 10, bottom: h - 22 };
	}

	function drawAxes(svg, f, top, step, now) {
		const y = (v) => f.bottom - (v / top) * (f.bottom - f.top);
		for (let v = 0; v <= top + step / 2; v += step) {
			svgEl(svg, 'line', { x1: f.left, x2: f.right, y1: y(v), y2: y(v), class: v ? 'grid' : 'axis' });
			svgEl(svg, 'text', { x: f.left - 6, y: y(v) + 4, class: 'ylabel' }, compact(v));
		}
		const x = (t) => f.left + (1 - (now - t) / WINDOW_MS) * (f.right - f.left);
		for (let min = 5; min >= 0; min--) {
			const tx = x(now - min * 60000);
			svgEl(svg, 'line', { x1: tx, x2: tx, y1: f.top, y2: f.bottom, class: 'grid' });
			svgEl(svg, 'text', { x: tx, y: f.h - 6, class: 'xlabel' }, min ? `−${min} min` : 'now');
		}
		return { x, y };
	}

	// One series as a path: M starts a segment (first point, after a gap).
	function seriesPath(points, key, scale) {
		let d = '', pen = 'M';
		for (const p of points) {
			if (p.gap) {
				pen = 'M';
				continue;
			}
			d += `${pen}${scale.x(p.t).toFixed(1)},${scale.y(p[key]).toFixed(1)}`;
			pen = 'L';
		}
		return d;
	}

	// Redraw one plot of two series (in, out) from the history. The svg's
	// data-* attributes carry what it shows, for tests and for anyone
	// inspecting the page.
	function drawPlot(svg, keyIn, keyOut, unit, fmt) {
		const points = history_.points, now = performance.now();
		const real = points.filter((p) => !p.gap);
		const peak = real.reduce((m, p) => Math.max(m, p[keyIn], p[keyOut]), 0);
		const step = niceStep(peak / 4);
		const top = Math.max(step * Math.ceil(peak / step), step);
		svg.replaceChildren();
		const f = plotFrame(svg);
		const scale = drawAxes(svg, f, top, step, now);
		svgEl(svg, 'path', { d: seriesPath(points, keyIn, scale), class: 'line in' });
		svgEl(svg, 'path', { d: seriesPath(points, keyOut, scale), class: 'line out' });
		const last = real[real.length - 1];
		svg.dataset.samples = real.length;
		svg.dataset.peak = peak;
		svg.dataset.lastIn = last ? last[keyIn] : 0;
		svg.dataset.lastOut = last ? last[keyOut] : 0;
		$(svg.getAttribute('aria-labelledby')).textContent = last
			? `Now ${fmt(last[keyIn])} ${unit} in, ${fmt(last[keyOut])} ${unit} out; peak ${fmt(peak)} ${unit} over the last 5 minutes.`
			: 'No data yet.';
	}

	function drawPlots() {
		drawPlot($('plot-msgs'), 'msgIn', 'msgOut', 'messages per second', rate);
		drawPlot($('plot-bytes'), 'bytesIn', 'bytesOut', 'per second', bytes);
	}

	/* --- broker numbers --------------------------------------------------------- */

	function setText(id, text) {
		$(id).textContent = text;
	}

	function showConnections(b) {
		const c = b.connections;
		setText('clients-connected', count(c.clients_connected));
		setText('connections-current', count(c.current));
		setText('connections-peak', `peak ${count(c.peak)} · ${count(c.accepted_total)} accepted since start`);
		const v = { '3.1': 0, '3.1.1': 0, '5.0': 0 };
		for (const l of c.by_listener)
			for (const k in v)
				v[k] += l.clients_by_version[k];
		setText('clients-by-version', `MQTT 5.0: ${count(v['5.0'])} · 3.1.1: ${count(v['3.1.1'])} · 3.1: ${count(v['3.1'])}`);
		showListeners(c.by_listener);
	}

	function showListeners(listeners) {
		const body = $('listeners').tBodies[0];
		body.replaceChildren();
		for (const l of listeners) {
			const v = l.clients_by_version;
			addRow(body, [l.port, l.address, l.protocol, count(l.connections),
				count(v['3.1']), count(v['3.1.1']), count(v['5.0'])], [false, false, false, true, true, true, true]);
		}
	}

	function showState(b) {
		const s = b.sessions, d = b.dropped, mem = b.memory;
		setText('version', 'v' + b.version);
		setText('sessions', `${count(s.total)} (${count(s.online)} online, ${count(s.offline)} offline)`);
		setText('subscriptions', count(b.subscriptions));
		setText('retained', count(b.retained.count));
		setText('dropped', count(d.total));
		setText('dropped-detail', d.total ? 'Dropped: ' + [
			['queue full', d.queue_full], ['QoS 0, output full', d.qos0_output_full],
			['QoS 0, offline', d.qos0_offline], ['expired', d.expired],
			['too large for client', d.too_large_for_client], ['not authorized', d.not_authorized],
			['memory limit', d.memory_limit]].filter((r) => r[1]).map((r) => `${r[0]} ${count(r[1])}`).join(' · ') : '');
		setText('uptime', duration(b.uptime_s));
		setText('memory', bytes(mem.rss_bytes) + (mem.limit_bytes ? ` of ${bytes(mem.limit_bytes)} limit` : '') +
			(mem.over_limit ? ' — over the limit' : ''));
		setText('store', b.store.enabled
			? `${count(b.store.commits)}, mean ${oneDecimal.format(b.store.commit_latency_mean_us / 1000)} ms` +
			  (b.store.errors ? `, ${count(b.store.errors)} errors` : '')
			: 'off (durability memory)');
		setText('workers', count(b.workers));
		setText('received-total', `${count(b.messages.received.total)} since start`);
		setText('sent-total', `${count(b.messages.sent.total)} since start`);
	}

	function showRatesNow() {
		const real = history_.points.filter((p) => !p.gap);
		const last = real[real.length - 1];
		setText('rate-in-now', last ? rate(last.msgIn) : '–');
		setText('rate-out-now', last ? rate(last.msgOut) : '–');
	}

	async function pollBroker() {
		if (auth.waiting)
			return;
		try {
			const r = await api('/api/v1/broker');
			if (r.status === 200) {
				addSample(counters(r.body));
				showConnections(r.body);
				showState(r.body);
				live.lastOk = performance.now();
				live.lastOkTime = new Date().toLocaleTimeString();
				setStatus('ok', 'live', live.lastOkTime);
			} else if (r.status !== 401) {
				addGap();
				setStatus('err', `the broker answered ${r.status}`, live.lastOkTime);
			}
		} catch (e) {
			addGap();
			setStatus('err', 'cannot reach the broker', live.lastOkTime);
		}
		showRatesNow();
		drawPlots();
	}

	function checkStale() {
		if (!auth.waiting && live.lastOk && performance.now() - live.lastOk > STALE_MS)
			setStatus('err', 'the broker is not answering', live.lastOkTime);
	}

	/* --- client tables ------------------------------------------------------------ */

	// Columns of both client tables: header, how to show a value, numeric.
	const CLIENT_COLUMNS = [
		['Client ID', (c) => c.client_id, false],
		['Username', (c) => c.username === null ? '—' : c.username, false],
		['State', (c) => c.online ? 'online' : 'offline', false],
		['Queued', (c) => count(c.queued), true],
		['In flight', (c) => count(c.inflight), true],
		['Subscriptions', (c) => count(c.subscriptions), true],
		['MQTT', (c) => c.online ? PROTOCOLS[c.protocol_version] || String(c.protocol_version) : '—', false],
		['Address', (c) => c.online ? `${c.address} → :${c.listener_port}` : '—', false],
		['Since', sinceText, false],
	];

	// An offline session has no connection fields, but may say since when
	// it has been offline.
	function sinceText(c) {
		if (c.online)
			return 'connected ' + since(c.connected_since_ms);
		return c.offline_since_ms ? 'offline ' + since(c.offline_since_ms) : '—';
	}

	function since(ms) {
		return duration(Math.max(0, Math.round((Date.now() - ms) / 1000))) + ' ago';
	}

	function addRow(body, cells, numeric) {
		const tr = body.insertRow();
		cells.forEach((text, i) => {
			const td = tr.insertCell();
			td.textContent = text;
			if (numeric[i])
				td.className = 'num';
		});
	}

	function clientHeader(table) {
		if (table.tHead.rows.length)
			return;
		const tr = table.tHead.insertRow();
		for (const [label, , numeric] of CLIENT_COLUMNS) {
			const th = document.createElement('th');
			th.scope = 'col';
			th.textContent = label;
			if (numeric)
				th.className = 'num';
			tr.appendChild(th);
		}
	}

	function showClients(table, list) {
		clientHeader(table);
		const body = table.tBodies[0];
		body.replaceChildren();
		for (const c of list)
			addRow(body, CLIENT_COLUMNS.map((col) => col[1](c)), CLIENT_COLUMNS.map((col) => col[2]));
		table.hidden = false;
	}

	// /api/v1/clients: available is null until known, then true or false
	// (a 404: a broker without the endpoint; it does not grow one while
	// running, so it is not asked again).
	const clients = { available: null };
	const NOT_AVAILABLE = 'Client list not available: this broker does not serve /api/v1/clients.';

	function clientsMissing() {
		clients.available = false;
		for (const id of ['top-note', 'search-note']) {
			setText(id, NOT_AVAILABLE);
			$(id).hidden = false;
		}
		$('top-clients').hidden = true;
		$('search-results').hidden = true;
		$('search-input').disabled = true;
		$('search-form').querySelector('button').disabled = true;
	}

	// GET /api/v1/clients?query: the answer's body, or null (after saying
	// why in note).
	async function fetchClients(query, note) {
		try {
			const r = await api('/api/v1/clients?' + query);
			if (r.status === 404)
				clientsMissing();
			else if (r.status === 200)
				clients.available = true;
			else if (r.status !== 401)
				setText(note, `The client list answered ${r.status}.`);
			return r.status === 200 ? r.body : null;
		} catch (e) {
			setText(note, 'The client list did not answer.');
			return null;
		}
	}

	async function pollTopClients() {
		if (auth.waiting || clients.available === false)
			return;
		const body = await fetchClients('sort=queued&order=desc&limit=10', 'top-note');
		if (!body)
			return;
		const note = $('top-note');
		note.hidden = body.clients.length > 0;
		note.textContent = 'No clients.';
		showClients($('top-clients'), body.clients);
	}

	let searchSeq = 0; // answers to older searches that arrive late are dropped

	async function search() {
		const prefix = $('search-input').value;
		const seq = ++searchSeq;
		if (!prefix) {
			setText('search-note', '');
			$('search-results').hidden = true;
			return;
		}
		const q = new URLSearchParams({ prefix, sort: 'id', order: 'asc', limit: SEARCH_LIMIT });
		const body = await fetchClients(q.toString(), 'search-note');
		if (!body || seq !== searchSeq)
			return;
		const n = body.total;
		setText('search-note', n === 0 ? `No client ID starts with “${prefix}”.`
			: `${count(n)} client${n === 1 ? '' : 's'} match` + (n > body.clients.length ? `; the first ${body.clients.length} shown.` : '.'));
		if (n === 0)
			$('search-results').hidden = true;
		else
			showClients($('search-results'), body.clients);
	}

	function debounce(fn, ms) {
		let timer = 0;
		return () => {
			clearTimeout(timer);
			timer = setTimeout(fn, ms);
		};
	}

	/* --- start -------------------------------------------------------------------- */

	// Each loop waits for its answer before the next request: a slow broker
	// gets one request at a time from this page, not a pile of them.
	function every(ms, fn) {
		const run = async () => {
			await fn();
			setTimeout(run, ms);
		};
		run();
	}

	function start() {
		tokenFromHash();
		$('token-form').addEventListener('submit', tokenEntered);
		$('search-form').addEventListener('submit', (ev) => {
			ev.preventDefault();
			search();
		});
		$('search-input').addEventListener('input', debounce(search, 300));
		window.addEventListener('resize', debounce(drawPlots, 100));
		every(POLL_MS, pollBroker);
		every(CLIENTS_POLL_MS, pollTopClients);
		setInterval(checkStale, 1000);
	}

	start();
})();
