#!/usr/bin/env node
/* The dashboard page in headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core) against a running fleetmq with http_listener
 * and http_token, with real MQTT clients (mqtt.js) making the numbers:
 *
 *   1. the page opened with #token=...: the token leaves the address bar,
 *      the connected-clients number is the number of clients connected
 *      here, the message-rate plot gains points and rises once messages
 *      are published, search finds a client by id prefix (or, while the
 *      broker has no /api/v1/clients, the page says the list is not
 *      available), no console errors and no uncaught exceptions;
 *      a screenshot is saved;
 *   2. the page opened without a token: the 401 opens the token form, and
 *      the token typed into it brings the numbers.
 *
 * Run by ../dashboard_test.py, which starts the broker and gives:
 *   --mqtt PORT --http PORT --token TOKEN --screenshot FILE --profile DIR
 * Every wait is bounded (WAIT_MS, generous for a ThreadSanitizer broker);
 * the first failure prints "FAIL: <why>" and exits 1, after closing the
 * browser and the clients. */
'use strict';

const mqtt = require('mqtt');
const { chromium } = require('playwright-core');

const HOST = '127.0.0.1';
const N_CLIENTS = 7;          // 4 on MQTT 3.1.1, 3 on 5.0
const WAIT_MS = 30000;        // one expectation; the page polls every second
const CHROMIUM_FLAGS = [      // the machine notes' flags: no calls to the outside
	'--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function parseArgs(argv) {
	const out = {};
	for (let i = 0; i + 1 < argv.length; i += 2)
		out[argv[i].replace(/^--/, '')] = argv[i + 1];
	for (const k of ['mqtt', 'http', 'token', 'screenshot', 'profile'])
		if (!out[k])
			throw new Error('missing --' + k);
	return out;
}

class Failure extends Error {}

function check(cond, what) {
	if (!cond)
		throw new Failure(what);
}

function log(line) {
	console.log(line);
}

/* --- MQTT clients ------------------------------------------------------------- */

function connectClient(port, id, version) {
	return new Promise((resolve, reject) => {
		const c = mqtt.connect({ host: HOST, port, clientId: id, protocolVersion: version, reconnectPeriod: 0,
			connectTimeout: WAIT_MS });
		c.once('connect', () => resolve(c));
		c.once('error', (e) => reject(new Failure(`${id}: ${e.message}`)));
	});
}

async function connectClients(port) {
	const ids = [];
	for (let i = 0; i < N_CLIENTS; i++)
		ids.push([`dash-${i < 4 ? 'v4' : 'v5'}-${i}`, i < 4 ? 4 : 5]);
	const clients = await Promise.all(ids.map(([id, v]) => connectClient(port, id, v)));
	await new Promise((resolve, reject) =>
		clients[0].subscribe('dash/#', { qos: 0 }, (e) => (e ? reject(e) : resolve())));
	return clients;
}

// count messages to dash/rate, spread over spreadMs so that several of the
// page's one-second polls see traffic.
async function publishSpread(client, count, spreadMs) {
	const batches = 10;
	for (let b = 0; b < batches; b++) {
		for (let i = 0; i < count / batches; i++)
			client.publish('dash/rate', `m${b}-${i}`, { qos: 0 });
		await new Promise((r) => setTimeout(r, spreadMs / batches));
	}
}

/* --- the page ------------------------------------------------------------------- */

// Console errors and uncaught exceptions of a page, but for those the
// caller expects (allowed(msg) true), which are logged instead.
function watchErrors(page, allowed) {
	const errors = [];
	page.on('console', (msg) => {
		if (msg.type() !== 'error')
			return;
		const where = msg.location().url || '';
		if (allowed(msg.text(), where))
			log(`expected console error: ${msg.text()} (${where})`);
		else
			errors.push(`console error: ${msg.text()} (${where})`);
	});
	page.on('pageerror', (e) => errors.push(`uncaught exception: ${e.message}`));
	return errors;
}

async function waitText(page, selector, want) {
	await page.waitForFunction(([sel, w]) => {
		const e = document.querySelector(sel);
		return e && e.textContent.trim() === w;
	}, [selector, want], { timeout: WAIT_MS }).catch(async () => {
		const got = await page.textContent(selector).catch(() => '(none)');
		throw new Failure(`${selector}: wanted "${want}", shows "${got}"`);
	});
}

async function plotState(page) {
	return page.$eval('#plot-msgs', (svg) => ({
		samples: Number(svg.dataset.samples || 0),
		peak: Number(svg.dataset.peak || 0),
		lineIn: (svg.querySelector('path.line.in') || { getAttribute: () => '' }).getAttribute('d'),
	}));
}

async function waitPlot(page, what, pred) {
	const deadline = Date.now() + WAIT_MS;
	let s;
	while (Date.now() < deadline) {
		s = await plotState(page);
		if (pred(s))
			return s;
		await page.waitForTimeout(250);
	}
	throw new Failure(`rate plot: ${what}; it has ${JSON.stringify(s)}`);
}

// The rate plot: points arrive with every poll, and messages published now
// lift the "in" line off zero.
async function checkPlot(page, publisher) {
	const before = await waitPlot(page, 'no points after the first polls', (s) => s.samples >= 2);
	check(before.peak === 0, `rate plot before any publish: peak ${before.peak}`);
	const published = 200;
	await publishSpread(publisher, published, 2500);
	const after = await waitPlot(page, `no rise after ${published} messages`, (s) => s.peak > 0);
	check(after.lineIn !== before.lineIn, 'rate plot: the "in" line did not change');
	log(`ok plot: ${before.samples} -> ${after.samples} points, peak ${after.peak.toFixed(1)} msg/s in or out`);
}

async function clientsStatus(args) {
	const r = await fetch(`http://${HOST}:${args.http}/api/v1/clients?limit=1`,
		{ headers: { Authorization: 'Bearer ' + args.token } });
	await r.arrayBuffer();
	return r.status;
}

// Search by prefix: the v5 clients' ids share one; the results table lists
// exactly those.
async function checkSearch(page) {
	await page.fill('#search-input', 'dash-v5-');
	await page.press('#search-input', 'Enter');
	await page.waitForFunction(() => {
		const t = document.querySelector('#search-results');
		return t && !t.hidden && t.tBodies[0].rows.length > 0;
	}, null, { timeout: WAIT_MS }).catch(() => { throw new Failure('search for "dash-v5-" showed no results'); });
	const ids = await page.$$eval('#search-results tbody tr', (rows) => rows.map((r) => r.cells[0].textContent));
	const want = ['dash-v5-4', 'dash-v5-5', 'dash-v5-6'];
	check(JSON.stringify(ids) === JSON.stringify(want), `search for "dash-v5-": ${JSON.stringify(ids)}`);
	log(`ok search: ${ids.join(', ')}`);
}

async function checkSearchOrNote(page, args) {
	const status = await clientsStatus(args);
	if (status === 200)
		return checkSearch(page);
	check(status === 404, `/api/v1/clients answered ${status}`);
	log('SKIP search assertion: /api/v1/clients answers 404 (not in this broker yet); ' +
		'checking that the page says the client list is not available instead');
	await page.waitForFunction(() => /not available/.test(document.querySelector('#top-note').textContent),
		null, { timeout: WAIT_MS }).catch(() => { throw new Failure('no "client list not available" note'); });
}

// What a missing /api/v1/clients costs in the console: Chromium reports
// the 404 of the page's own request as an error line.
const clients404 = (text, url) => /status of 404/.test(text) && url.includes('/api/v1/clients');

async function mainPage(context, args, publisher) {
	const page = await context.newPage();
	const errors = watchErrors(page, clients404);
	await page.goto(`http://${HOST}:${args.http}/#token=${encodeURIComponent(args.token)}`);
	await waitText(page, '#clients-connected', String(N_CLIENTS));
	log(`ok connected clients: ${N_CLIENTS}`);
	check(!page.url().includes(args.token), `the token stayed in the address bar: ${page.url()}`);
	check(await page.isHidden('#token-panel'), 'the token form is shown although the token was given');
	await checkPlot(page, publisher);
	await checkSearchOrNote(page, args);
	await page.waitForTimeout(1500); // one more poll: the screenshot shows settled numbers
	await page.screenshot({ path: args.screenshot, fullPage: true });
	log('ok screenshot saved');
	check(errors.length === 0, errors.join('; '));
	log('ok no console errors');
	await page.close();
}

// A tab with no token: the 401 opens the form (the 401 itself is an
// expected console line), and the token typed there is used.
async function tokenPage(context, args) {
	const page = await context.newPage();
	const errors = watchErrors(page, (text, url) => /status of 401/.test(text) || clients404(text, url));
	await page.goto(`http://${HOST}:${args.http}/`);
	await page.waitForSelector('#token-panel', { state: 'visible', timeout: WAIT_MS })
		.catch(() => { throw new Failure('no token form after a 401'); });
	await page.fill('#token-input', args.token);
	await page.click('#token-panel button[type=submit]');
	await waitText(page, '#clients-connected', String(N_CLIENTS));
	check(await page.isHidden('#token-panel'), 'the token form stayed open after a good token');
	check(errors.length === 0, errors.join('; '));
	log('ok token form');
	await page.close();
}

async function main() {
	const args = parseArgs(process.argv.slice(2));
	let clients = [], context = null;
	try {
		clients = await connectClients(Number(args.mqtt));
		context = await chromium.launchPersistentContext(args.profile, {
			executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS,
			viewport: { width: 1440, height: 900 }, timeout: WAIT_MS,
		});
		await mainPage(context, args, clients[N_CLIENTS - 1]);
		await tokenPage(context, args);
	} finally {
		if (context)
			await context.close();
		for (const c of clients)
			c.end(true);
	}
}

main().then(() => process.exit(0), (e) => {
	console.log('FAIL: ' + (e instanceof Failure ? e.message : e.stack));
	process.exit(1);
});
