#!/usr/bin/env node
/* MQTT over WebSocket against a running fleetmq, from node: mqtt.js (v4 and
 * v5, over ws and wss, QoS 0/1/2, 1 MB payloads, ws <-> tcp) and raw frames
 * through the `ws` package (packets split across frames and packed into
 * one [MQTT-6.0.0-2], subprotocol negotiation [MQTT-6.0.0-3/4], text frames
 * [MQTT-6.0.0-1], ping, close handshakes both ways, HTTP 404s,
 * websockets_path, X-Forwarded-For, wss with client certificates).
 *
 * Run by ../ws_test.py, which starts two brokers (one wss listener each:
 * libwebsockets 4.1.6 chooses TLS contexts by SNI across vhosts, so fleetmq
 * takes one at most). Broker "main" has these listeners:
 *   --tcp PORT       plain MQTT
 *   --ws PORT        protocol websockets, any path, X-Forwarded-For ignored
 *   --wss PORT       protocol websockets with certfile/keyfile (SAN localhost)
 *   --ws-path PORT   protocol websockets, websockets_path /mqtt,
 *                    websockets_trust_x_forwarded_for true
 * and broker "mtls" these (only the mutual-TLS scenarios use them):
 *   --wss-mtls PORT  wss with require_certificate, cafile DIR/ca.crt and
 *                    use_identity_as_username
 *   --ws-mtls-plain PORT  protocol websockets, listed after --wss-mtls
 * and
 *   --certs DIR      ca.crt (signed the servers' and client.crt),
 *                    client.crt/.key (CN ws-user), rogue.crt/.key
 *                    (self-signed, CN ws-user)
 * and afterwards checks the broker's log for what only the log shows (the
 * peer address taken from X-Forwarded-For, the text-frame close reason, the
 * certificate's user): the client ids used for those are fixed (xff-*,
 * ws-text, mtls-user, mtls-plain).
 *
 * Every scenario is bounded (SCENARIO_MS); the first failure prints
 * "FAIL: <scenario>: <why>" and exits 1 (with --keep-going: every scenario
 * runs, then exit 1). Prints one "ok" line per scenario passed. */
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const mqtt = require('mqtt');
const path = require('path');
const tls = require('tls');
const WebSocket = require('ws');

const SCENARIO_MS = 5000; /* per scenario; the 1 MB ones get twice that */
const HOST = '127.0.0.1';

/* --- arguments ------------------------------------------------------------ */

function parseArgs(argv) {
	const want = ['tcp', 'ws', 'wss', 'ws-path', 'wss-mtls', 'ws-mtls-plain', 'certs'];
	const out = { 'keep-going': false };
	for (let i = 0; i < argv.length; i += 2) {
		if (argv[i] === '--keep-going') {
			out['keep-going'] = true;
			i--;
			continue;
		}
		const name = argv[i].replace(/^--/, '');
		if (!want.includes(name) || i + 1 >= argv.length)
			usage('bad argument ' + argv[i]);
		out[name] = argv[i + 1];
	}
	for (const name of want)
		if (!out[name])
			usage('missing --' + name);
	for (const name of want.slice(0, 6))
		if (!/^\d+$/.test(out[name]))
			usage('--' + name + ' wants a port');
	return out;
}

function usage(why) {
	console.error('ws_check.js: ' + why);
	console.error('usage: node ws_check.js --tcp PORT --ws PORT --wss PORT --ws-path PORT --wss-mtls PORT --ws-mtls-plain PORT --certs DIR [--keep-going]');
	process.exit(2);
}

const args = parseArgs(process.argv.slice(2));
const cert = (name) => fs.readFileSync(path.join(args.certs, name));
const CA = cert('ca.crt');
const URL_WS = `ws://${HOST}:${args.ws}`;
const URL_WSS = `wss://${HOST}:${args.wss}`;
const URL_TCP = `mqtt://${HOST}:${args.tcp}`;
const URL_PATH = `ws://${HOST}:${args['ws-path']}`;
const URL_MTLS = `wss://${HOST}:${args['wss-mtls']}`;
const URL_MTLS_PLAIN = `ws://${HOST}:${args['ws-mtls-plain']}`;
/* wss: verify against our CA, by name (the certificate's DNS SAN); mqtt.js
 * hands ca and rejectUnauthorized to `ws` itself, servername only inside
 * wsOptions. A function: mqtt.js writes into the wsOptions it is given. */
const tlsOpts = () => ({ ca: CA, rejectUnauthorized: true, wsOptions: { servername: 'localhost' } });

/* --- bounded waits and cleanup ------------------------------------------ */

class CheckError extends Error {}

function check(cond, msg) {
	if (!cond)
		throw new CheckError(msg);
}

/* Everything a scenario opens registers its closer here; the runner calls
 * them all after the scenario, passed or not. */
let closers = [];

function track(closeFn) {
	closers.push(closeFn);
}

function closeAll() {
	for (const fn of closers.splice(0)) {
		try {
			fn();
		} catch (e) {
			/* already closed */
		}
	}
}

/* Resolves with the arguments of the first `event` on emitter; rejects on
 * 'error' (unless that is the awaited event), on any of failOn, or after ms. */
function waitFor(emitter, event, what, ms = SCENARIO_MS, failOn = []) {
	return new Promise((resolve, reject) => {
		const handlers = [];
		const timer = setTimeout(() => done(reject, new CheckError(`timed out after ${ms} ms waiting for ${what}`)), ms);
		function done(fn, val) {
			clearTimeout(timer);
			for (const [ev, h] of handlers)
				emitter.removeListener(ev, h);
			fn(val);
		}
		function on(ev, h) {
			handlers.push([ev, h]);
			emitter.on(ev, h);
		}
		on(event, (...a) => done(resolve, a));
		if (event !== 'error')
			on('error', (e) => done(reject, new CheckError(`${what}: error ${e.message}`)));
		for (const ev of failOn)
			on(ev, (...a) => done(reject, new CheckError(`${what}: got '${ev}' first (${a.map(String).join(', ')})`)));
	});
}

function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

/* --- mqtt.js clients ------------------------------------------------------------ */

/* An mqtt.js client whose messages land in a queue: next() takes the
 * oldest, waiting (bounded) for one. */
class Client {
	constructor(url, clientId, version, extra = {}) {
		this.id = clientId;
		this.queue = [];
		this.waiters = [];
		this.c = mqtt.connect(url, {
			clientId,
			protocolVersion: version,
			clean: true,
			keepalive: 30,
			reconnectPeriod: 0, /* a failure must show, not be retried */
			connectTimeout: SCENARIO_MS,
			...extra,
			wsOptions: extra.wsOptions && { ...extra.wsOptions }, /* mqtt.js writes into it */
		});
		this.c.on('error', (e) => (this.lastError = e)); /* waits report errors; no throw from emit */
		this.c.on('message', (topic, payload, packet) => {
			const m = { topic, payload, packet };
			const w = this.waiters.shift();
			if (w)
				w(m);
			else
				this.queue.push(m);
		});
		track(() => this.c.end(true));
	}

	async connected() {
		await waitFor(this.c, 'connect', `CONNACK for ${this.id}`, SCENARIO_MS, ['close']);
		return this;
	}

	async subscribe(topic, qos, opts = {}) {
		const granted = await this.c.subscribeAsync(topic, { qos, ...opts });
		check(granted.length === 1 && granted[0].qos === qos,
			`${this.id}: SUBACK for ${topic} granted ${JSON.stringify(granted)}, want QoS ${qos}`);
	}

	/* resolves once the QoS flow is complete (PUBACK / PUBCOMP) */
	publish(topic, payload, qos, opts = {}) {
		return this.c.publishAsync(topic, payload, { qos, ...opts });
	}

	next(what, ms = SCENARIO_MS) {
		if (this.queue.length)
			return Promise.resolve(this.queue.shift());
		return new Promise((resolve, reject) => {
			const w = (m) => {
				clearTimeout(timer);
				resolve(m);
			};
			const timer = setTimeout(() => {
				this.waiters.splice(this.waiters.indexOf(w), 1);
				reject(new CheckError(`${this.id}: no message within ${ms} ms (${what})`));
			}, ms);
			this.waiters.push(w);
		});
	}

	async expect(topic, payload, qos, ms = SCENARIO_MS) {
		const m = await this.next(`${topic} at QoS ${qos}`, ms);
		check(m.topic === topic, `${this.id}: got topic ${m.topic}, want ${topic}`);
		check(m.packet.qos === qos, `${this.id}: ${topic} arrived at QoS ${m.packet.qos}, want ${qos}`);
		check(Buffer.compare(m.payload, Buffer.from(payload)) === 0,
			`${this.id}: ${topic}: payload differs (${m.payload.length} bytes, want ${payload.length}` +
			`, first difference at byte ${firstDiff(m.payload, Buffer.from(payload))})`);
		return m;
	}

	async end() {
		await this.c.endAsync();
	}
}

function firstDiff(a, b) {
	const n = Math.min(a.length, b.length);
	for (let i = 0; i < n; i++)
		if (a[i] !== b[i])
			return i;
	return n;
}

/* --- raw MQTT packets over the `ws` package ---------------------------------------------- */

function varint(n) {
	const out = [];
	do {
		let b = n % 128;
		n = Math.floor(n / 128);
		if (n > 0)
			b |= 0x80;
		out.push(b);
	} while (n > 0);
	return Buffer.from(out);
}

function str(s) {
	const b = Buffer.from(s);
	return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

function packet(first, body) {
	return Buffer.concat([Buffer.from([first]), varint(body.length), body]);
}

/* 3.1.1 CONNECT (or 3.1 with name MQIsdp, level 3), clean session, keepalive 60 */
function connectPkt(clientId, name = 'MQTT', level = 4) {
	return packet(0x10, Buffer.concat([str(name), Buffer.from([level, 0x02, 0x00, 60]), str(clientId)]));
}

function subscribePkt(id, filter, qos) {
	return packet(0x82, Buffer.concat([Buffer.from([id >> 8, id & 0xff]), str(filter), Buffer.from([qos])]));
}

function publishPkt(topic, payload) {
	return packet(0x30, Buffer.concat([str(topic), Buffer.from(payload)]));
}

const CONNACK_OK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const DISCONNECT = Buffer.from([0xe0, 0x00]);

function suback(id, qos) {
	return Buffer.from([0x90, 0x03, id >> 8, id & 0xff, qos]);
}

/* A raw WebSocket; the bytes of every binary message it receives are
 * appended to one stream, which expect() reads. */
class Raw {
	constructor(url, protocols, options = {}) {
		this.url = url;
		this.rx = Buffer.alloc(0);
		this.textFrames = 0;
		this.ws = new WebSocket(url, protocols, options);
		this.ws.on('error', (e) => (this.lastError = e)); /* waits report errors; no throw from emit */
		this.ws.on('message', (data, isBinary) => {
			if (!isBinary)
				this.textFrames++;
			this.rx = Buffer.concat([this.rx, data]);
			this.ws.emit('fm-data');
		});
		track(() => this.ws.terminate());
	}

	async open() {
		await waitFor(this.ws, 'open', `WebSocket upgrade of ${this.url}`, SCENARIO_MS, ['unexpected-response', 'close']);
		return this;
	}

	send(bytes, opts = { binary: true }) {
		return new Promise((resolve, reject) => this.ws.send(bytes, opts, (e) => (e ? reject(e) : resolve())));
	}

	/* the next want.length bytes received must be want */
	async expect(want, what) {
		const deadline = Date.now() + SCENARIO_MS;
		while (this.rx.length < want.length) {
			const left = deadline - Date.now();
			check(left > 0, `${what}: got ${hex(this.rx)} within ${SCENARIO_MS} ms, want ${hex(want)}`);
			await waitFor(this.ws, 'fm-data', what, left, ['close']);
		}
		const got = this.rx.subarray(0, want.length);
		this.rx = this.rx.subarray(want.length);
		check(got.equals(want), `${what}: got ${hex(got)}, want ${hex(want)}`);
		check(this.textFrames === 0, `${what}: the broker sent a text frame [MQTT-6.0.0-1]`);
	}

	async mqttConnect(clientId) {
		await this.send(connectPkt(clientId));
		await this.expect(CONNACK_OK, `CONNACK for ${clientId}`);
	}
}

function hex(b) {
	const s = b.subarray(0, 24).toString('hex').replace(/(..)/g, '$1 ').trim();
	return b.length > 24 ? `${s} ... (${b.length} bytes)` : s || '(nothing)';
}

/* The outcome of an upgrade the broker should refuse: 'open', an HTTP
 * status, or 'error: ...' (the connection dropped without a response). */
function upgradeOutcome(url, protocols, options = {}) {
	return new Promise((resolve) => {
		const ws = new WebSocket(url, protocols, options);
		track(() => ws.terminate());
		const timer = setTimeout(() => resolve('no answer within ' + SCENARIO_MS + ' ms'), SCENARIO_MS);
		const done = (v) => {
			clearTimeout(timer);
			resolve(v);
		};
		ws.on('open', () => done('open'));
		ws.on('unexpected-response', (req, res) => {
			res.resume();
			done(res.statusCode);
		});
		ws.on('error', (e) => done('error: ' + shortError(e)));
	});
}

/* OpenSSL's messages run long: keep the alert ("tlsv13 alert certificate
 * required"), or else the first line. */
function shortError(e) {
	const alert = /:([^:]*alert[^:]*):/.exec(e.message);
	return alert ? alert[1] : e.message.split('\n')[0];
}

/* --- scenarios: mqtt.js ---------------------------------------------------------------- */

/* QoS 0/1/2 round trip over one transport; with 5.0, a User Property and a
 * Content Type survive it. */
async function roundTrip(url, version, tag, extra = {}) {
	const sub = await new Client(url, `${tag}-sub`, version, extra).connected();
	const pub = await new Client(url, `${tag}-pub`, version, extra).connected();
	await sub.subscribe(`${tag}/#`, 2);
	for (const qos of [0, 1, 2]) {
		const topic = `${tag}/q${qos}`;
		const opts = version === 5
			? { properties: { userProperties: { fleetmq: `ws ${qos}` }, contentType: 'application/x-fleetmq-test' } }
			: {};
		await pub.publish(topic, `m${qos}`, qos, opts);
		/* a QoS 2 subscription gets the publisher's QoS [MQTT-3.8.4-6] (5.0: [MQTT-3.8.4-8]) */
		const m = await sub.expect(topic, `m${qos}`, qos);
		if (version === 5) {
			const p = m.packet.properties || {};
			/* [MQTT-3.3.2-17] user properties unaltered */
			check(p.userProperties && p.userProperties.fleetmq === `ws ${qos}`,
				`${topic}: user property lost or changed: ${JSON.stringify(p.userProperties)}`);
			/* [MQTT-3.3.2-20] content type unaltered */
			check(p.contentType === 'application/x-fleetmq-test', `${topic}: content type ${JSON.stringify(p.contentType)}`);
		}
	}
	await sub.end();
	await pub.end();
}

/* 1 MB each way between a ws and a wss client, byte for byte: the packet
 * spans many frames and TLS records [MQTT-6.0.0-2]. */
async function bigPayloads() {
	const ms = 2 * SCENARIO_MS;
	const ws = await new Client(URL_WS, 'big-ws', 4).connected();
	const wss = await new Client(URL_WSS, 'big-wss', 4, tlsOpts()).connected();
	await ws.subscribe('big/to-ws', 1);
	await wss.subscribe('big/to-wss', 1);
	const a = crypto.randomBytes(1 << 20);
	const b = crypto.randomBytes(1 << 20);
	await ws.publish('big/to-wss', a, 1);
	await wss.expect('big/to-wss', a, 1, ms);
	await wss.publish('big/to-ws', b, 1);
	await ws.expect('big/to-ws', b, 1, ms);
	await ws.end();
	await wss.end();
}

/* A plain TCP client and a WebSocket one exchange messages both ways. */
async function tcpAndWs() {
	const tcp = await new Client(URL_TCP, 'mix-tcp', 4).connected();
	const ws = await new Client(URL_WS, 'mix-ws', 5).connected();
	await tcp.subscribe('mix/to-tcp', 1);
	await ws.subscribe('mix/to-ws', 1);
	await tcp.publish('mix/to-ws', 'from tcp', 1);
	await ws.expect('mix/to-ws', 'from tcp', 1);
	await ws.publish('mix/to-tcp', 'from ws', 1);
	await tcp.expect('mix/to-tcp', 'from ws', 1);
	await tcp.end();
	await ws.end();
}

/* --- scenarios: raw frames ----------------------------------------------------------------- */

/* CONNECT in two frames (cut inside the protocol name), then SUBSCRIBE and
 * a PUBLISH, each cut into two frames too: the broker reassembles the
 * stream [MQTT-6.0.0-2]. The subprotocol is "mqtt" [MQTT-6.0.0-4]. */
async function splitFrames() {
	const r = await new Raw(URL_WS, ['mqtt']).open();
	check(r.ws.protocol === 'mqtt', `selected subprotocol ${JSON.stringify(r.ws.protocol)}, want "mqtt" [MQTT-6.0.0-4]`);
	const connect = connectPkt('raw-split');
	await r.send(connect.subarray(0, 5));
	await sleep(50); /* let the first frame arrive on its own */
	await r.send(connect.subarray(5));
	await r.expect(CONNACK_OK, 'CONNACK for a CONNECT in two frames');
	const sub = subscribePkt(7, 'raw/split', 0);
	await r.send(sub.subarray(0, 1)); /* the fixed header's first byte alone */
	await r.send(sub.subarray(1));
	await r.expect(suback(7, 0), 'SUBACK for a SUBSCRIBE in two frames');
	const pub = publishPkt('raw/split', 'split payload');
	await r.send(pub.subarray(0, pub.length - 3));
	await r.send(pub.subarray(pub.length - 3));
	await r.expect(pub, 'the PUBLISH sent in two frames, back to its subscriber');
	await r.send(DISCONNECT);
}

/* CONNECT, SUBSCRIBE and PUBLISH in one frame [MQTT-6.0.0-2]: CONNACK,
 * SUBACK and the PUBLISH come back, in that order. */
async function packedFrame() {
	const r = await new Raw(URL_WS, ['mqtt']).open();
	const pub = publishPkt('raw/packed', 'packed payload');
	await r.send(Buffer.concat([connectPkt('raw-packed'), subscribePkt(9, 'raw/packed', 0), pub]));
	await r.expect(CONNACK_OK, 'CONNACK (three packets in one frame)');
	await r.expect(suback(9, 0), 'SUBACK (three packets in one frame)');
	await r.expect(pub, 'PUBLISH (three packets in one frame)');
	await r.send(DISCONNECT);
}

/* The subprotocol 3.1 clients offer, with a 3.1 CONNECT. */
async function mqttv31() {
	const r = await new Raw(URL_WS, ['mqttv3.1']).open();
	check(r.ws.protocol === 'mqttv3.1', `selected subprotocol ${JSON.stringify(r.ws.protocol)}, want "mqttv3.1"`);
	await r.send(connectPkt('raw-v31', 'MQIsdp', 3));
	await r.expect(CONNACK_OK, 'CONNACK for a 3.1 CONNECT over "mqttv3.1"');
	await r.send(DISCONNECT);
}

/* Offered with other names, "mqtt" is still the one chosen [MQTT-6.0.0-4]. */
async function mqttAmongOthers() {
	const r = await new Raw(URL_WS, ['chat', 'mqtt']).open();
	check(r.ws.protocol === 'mqtt', `selected subprotocol ${JSON.stringify(r.ws.protocol)}, want "mqtt" [MQTT-6.0.0-4]`);
	await r.mqttConnect('raw-among');
	await r.send(DISCONNECT);
}

/* No subprotocol offered: the upgrade is refused [MQTT-6.0.0-3]. */
async function noSubprotocol() {
	const outcome = await upgradeOutcome(URL_WS, undefined);
	check(outcome !== 'open', 'an upgrade offering no subprotocol was accepted [MQTT-6.0.0-3]');
	check(!String(outcome).startsWith('no answer'), `an upgrade offering no subprotocol: ${outcome}`);
	return `refused: ${outcome}`;
}

/* A text frame closes the connection [MQTT-6.0.0-1]; a client beside it
 * stays connected and still receives. (ws_test.py checks the log's reason
 * for client ws-text.) The broker sends a close frame first, with status
 * 1003: an endpoint "terminating the connection because it has received a
 * type of data it cannot accept" (RFC 6455 7.4.1; 7.1.7: fail the
 * connection, sending a close frame first where it can). The `ws` package
 * reports 1006 when the TCP connection ended without one. */
async function textFrame() {
	const bystander = await new Client(URL_WS, 'ws-bystander', 4).connected();
	await bystander.subscribe('text/#', 1);
	let bystanderClosed = false;
	bystander.c.on('close', () => (bystanderClosed = true));
	const r = await new Raw(URL_WS, ['mqtt']).open();
	await r.mqttConnect('ws-text');
	const closed = waitFor(r.ws, 'close', 'the broker closing after a text frame');
	await r.send('this is not MQTT', { binary: false });
	const [code] = await closed;
	check(code === 1003, `close code ${code} after a text frame, want a close frame with 1003 (RFC 6455 7.4.1)`);
	const tcp = await new Client(URL_TCP, 'text-tcp', 4).connected();
	await tcp.publish('text/after', 'still here', 1);
	await bystander.expect('text/after', 'still here', 1);
	check(!bystanderClosed, 'the bystander was disconnected too');
	await bystander.end();
	await tcp.end();
	return `close code ${code}`;
}

/* libwebsockets answers a ping with a pong carrying the same data. */
async function pingPong() {
	const r = await new Raw(URL_WS, ['mqtt']).open();
	await r.mqttConnect('raw-ping');
	const pong = waitFor(r.ws, 'pong', 'a pong');
	r.ws.ping(Buffer.from('fleetmq'));
	const [data] = await pong;
	check(data.toString() === 'fleetmq', `pong data ${JSON.stringify(data.toString())}, want "fleetmq"`);
	/* still usable as MQTT afterwards: PINGREQ -> PINGRESP */
	await r.send(Buffer.from([0xc0, 0x00]));
	await r.expect(Buffer.from([0xd0, 0x00]), 'PINGRESP after the WebSocket ping');
	await r.send(DISCONNECT);
}

/* A client's close(1000) gets a close frame back with 1000 (the `ws`
 * package reports 1006 when the TCP connection ends without one). */
async function closeHandshake() {
	const r = await new Raw(URL_WS, ['mqtt']).open();
	await r.mqttConnect('raw-close');
	const closed = waitFor(r.ws, 'close', 'the close frame echoed');
	r.ws.close(1000, 'bye');
	const [code] = await closed;
	check(code === 1000, `close code ${code}, want 1000 echoed`);
}

function httpGet(port, path) {
	return new Promise((resolve, reject) => {
		const req = http.get({ host: HOST, port, path, agent: false }, (res) => {
			res.resume();
			res.on('end', () => resolve(res.statusCode));
		});
		req.setTimeout(SCENARIO_MS, () => req.destroy(new CheckError(`GET ${path}: no answer within ${SCENARIO_MS} ms`)));
		req.on('error', reject);
		track(() => req.destroy());
	});
}

/* A plain HTTP request to a WebSocket listener: 404. */
async function plainHttp() {
	const status = await httpGet(args.ws, '/');
	check(status === 404, `GET / on the ws listener: HTTP ${status}, want 404`);
	const status2 = await httpGet(args['ws-path'], '/mqtt');
	check(status2 === 404, `GET /mqtt (no upgrade) on the websockets_path listener: HTTP ${status2}, want 404`);
}

/* websockets_path /mqtt: another path gets 404, /mqtt (with or without a
 * query) upgrades. */
async function wsPath() {
	const other = await upgradeOutcome(`${URL_PATH}/other`, ['mqtt']);
	check(other === 404, `upgrade to /other with websockets_path /mqtt: ${other}, want HTTP 404`);
	const root = await upgradeOutcome(`${URL_PATH}/`, ['mqtt']);
	check(root === 404, `upgrade to / with websockets_path /mqtt: ${root}, want HTTP 404`);
	const r = await new Raw(`${URL_PATH}/mqtt`, ['mqtt']).open();
	await r.mqttConnect('path-mqtt');
	await r.send(DISCONNECT);
	const q = await new Raw(`${URL_PATH}/mqtt?client=1`, ['mqtt']).open();
	await q.mqttConnect('path-query');
	await q.send(DISCONNECT);
}

/* X-Forwarded-For: trusted on the websockets_path listener (the log names
 * its first entry), ignored on the plain one (the log names 127.0.0.1).
 * ws_test.py reads the log. */
async function forwardedFor() {
	const cases = [
		[`${URL_PATH}/mqtt`, '203.0.113.7', 'xff-trusted'],
		[`${URL_PATH}/mqtt`, '203.0.113.8, 198.51.100.1', 'xff-list'],
		[URL_WS, '203.0.113.9', 'xff-untrusted'],
	];
	for (const [url, xff, id] of cases) {
		const r = await new Raw(url, ['mqtt'], { headers: { 'X-Forwarded-For': xff } }).open();
		await r.mqttConnect(id);
		await r.send(DISCONNECT);
	}
}

/* The broker closing a connection (here: a second CONNECT with the same
 * client id takes the session over and the first connection is closed
 * [MQTT-3.1.4-2]) sends a close frame: the `ws` package sees 1000, not
 * 1006 (TCP gone without one). */
async function brokerClose() {
	const first = await new Raw(URL_WS, ['mqtt']).open();
	await first.mqttConnect('raw-takeover');
	const closed = waitFor(first.ws, 'close', 'the first connection closed on takeover');
	const second = await new Raw(URL_WS, ['mqtt']).open();
	await second.mqttConnect('raw-takeover');
	const [code] = await closed;
	check(code === 1000, `the broker closed the taken-over connection with ${code}, want a close frame with 1000`);
	await second.send(DISCONNECT);
}

/* wss with require_certificate and use_identity_as_username (the listener
 * trusts only ca.crt): no certificate and a self-signed one with the same
 * CN are refused in the TLS handshake; client.crt (CN ws-user) connects,
 * and ws_test.py checks the log names user ws-user. The plain ws listener
 * after it on the same broker keeps its own settings: no certificate asked
 * for (it is not TLS at all), no user taken (ws_test.py checks the log). */
async function mutualTls() {
	const r = await new Raw(URL_MTLS, ['mqtt'],
		{ ca: CA, servername: 'localhost', cert: cert('client.crt'), key: cert('client.key') }).open();
	await r.mqttConnect('mtls-user');
	await r.send(DISCONNECT);
	const noCert = await upgradeOutcome(URL_MTLS, ['mqtt'], { ca: CA, servername: 'localhost' });
	check(noCert !== 'open', 'require_certificate: a client without a certificate was let in');
	const rogue = await upgradeOutcome(URL_MTLS, ['mqtt'],
		{ ca: CA, servername: 'localhost', cert: cert('rogue.crt'), key: cert('rogue.key') });
	check(rogue !== 'open', 'require_certificate: a self-signed client certificate (CN ws-user, not from cafile) was let in');
	const plain = await new Raw(URL_MTLS_PLAIN, ['mqtt']).open();
	await plain.mqttConnect('mtls-plain');
	await plain.send(DISCONNECT);
	return `no certificate: ${noCert}; self-signed: ${rogue}`;
}

/* Each broker's wss listener serves its own certificate, SNI or not: the
 * two differ in O= ("fleetmq wss", "fleetmq wss-mtls"). */
async function ownCertificates() {
	const cases = [
		[args.wss, 'fleetmq wss', {}],
		[args['wss-mtls'], 'fleetmq wss-mtls', { cert: cert('client.crt'), key: cert('client.key') }],
	];
	for (const [port, org, extra] of cases) {
		for (const servername of ['localhost', undefined]) {
			const sock = tls.connect({ host: HOST, port: Number(port), ca: CA, servername, ...extra });
			track(() => sock.destroy());
			const what = `TLS handshake with port ${port} (SNI ${servername || 'none'})`;
			await waitFor(sock, 'secureConnect', what, SCENARIO_MS, ['close']);
			const got = sock.getPeerCertificate().subject.O;
			check(got === org, `${what}: certificate of O=${got}, want the listener's own O=${org}`);
			sock.destroy();
		}
	}
}

/* --- runner ------------------------------------------------------------------------------ */

const scenarios = [
	['mqtt.js ws v3.1.1 QoS 0/1/2', () => roundTrip(URL_WS, 4, 'ws4')],
	['mqtt.js ws v5 QoS 0/1/2 + properties', () => roundTrip(URL_WS, 5, 'ws5')],
	['mqtt.js wss v3.1.1 QoS 0/1/2', () => roundTrip(URL_WSS, 4, 'wss4', tlsOpts())],
	['mqtt.js wss v5 QoS 0/1/2 + properties', () => roundTrip(URL_WSS, 5, 'wss5', tlsOpts())],
	['1 MB ws -> wss and wss -> ws', bigPayloads, 3 * SCENARIO_MS],
	['tcp <-> ws', tcpAndWs],
	['raw: packets split across frames [MQTT-6.0.0-2], subprotocol mqtt [MQTT-6.0.0-4]', splitFrames],
	['raw: CONNECT+SUBSCRIBE+PUBLISH in one frame [MQTT-6.0.0-2]', packedFrame],
	['raw: subprotocol mqttv3.1', mqttv31],
	['raw: mqtt chosen among offered subprotocols [MQTT-6.0.0-4]', mqttAmongOthers],
	['raw: no subprotocol refused [MQTT-6.0.0-3]', noSubprotocol],
	['raw: text frame closes with 1003 [MQTT-6.0.0-1], bystander unaffected', textFrame],
	['raw: ping -> pong', pingPong],
	['raw: close(1000) echoed', closeHandshake],
	['http: plain GET -> 404', plainHttp],
	['websockets_path /mqtt', wsPath],
	['X-Forwarded-For connections', forwardedFor],
	['broker-side close sends a close frame (takeover [MQTT-3.1.4-2])', brokerClose],
	['wss require_certificate + use_identity_as_username', mutualTls],
	['each broker\'s wss listener serves its own certificate (SNI or not)', ownCertificates],
];

/* Runs the scenarios in order, each bounded; stops at the first failure
 * unless --keep-going (then runs them all and fails at the end). */
async function main() {
	const failed = [];
	for (const [name, fn, ms = SCENARIO_MS] of scenarios) {
		const t0 = Date.now();
		let timer;
		try {
			const bound = new Promise((_, reject) => {
				timer = setTimeout(() => reject(new CheckError(`not done within ${ms} ms`)), ms);
			});
			const note = await Promise.race([fn(), bound]);
			console.log(`ok ${name} (${Date.now() - t0} ms${note ? ', ' + note : ''})`);
		} catch (e) {
			console.error(`FAIL: ${name}: ${e instanceof CheckError ? e.message : e.stack}`);
			failed.push(name);
			if (!args['keep-going']) {
				closeAll();
				process.exit(1);
			}
		} finally {
			clearTimeout(timer);
		}
		closeAll();
		await sleep(20); /* let the closes reach the broker before the next scenario */
	}
	if (failed.length) {
		console.error(`ws_check: ${failed.length} of ${scenarios.length} scenarios failed`);
		process.exit(1);
	}
	console.log(`ws_check: all ${scenarios.length} scenarios passed`);
	process.exit(0);
}

main();
