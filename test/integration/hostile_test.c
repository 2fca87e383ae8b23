/* Hostile and broken clients: malformed packets close only their own
 * connection, packets split at every byte are still framed, slow consumers
 * cannot make the broker buffer without bound. */
#include "hostile.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

static struct hb broker;

static void start(void) { hb_start(&broker, "message_size_limit 1000000"); }
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "broker exit status"); }

TestSuite(hostile, .init = start, .fini = stop, .timeout = 120);

/* Connect, send bytes after CONNECT, expect the close, check the canary. */
static void attack_after_connect(const uint8_t *bytes, size_t n, const char *what)
{
	struct canary c;
	canary_up(&c, &broker);
	struct raw r;
	raw_connect_simple(&r, broker.port, "attacker");
	raw_send(&r, bytes, n);
	cr_assert(raw_closed_within(&r, 3000, NULL), "%s: connection not closed", what);
	raw_close(&r);
	canary_down(&c, what);
}

Test(hostile, remaining_length_of_five_bytes_closes_MQTT_2_2_3)
{
	static const uint8_t pkt[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
	attack_after_connect(pkt, sizeof(pkt), "5-byte remaining length");
}

Test(hostile, reserved_packet_type_0_closes_MQTT_2_2_1)
{
	static const uint8_t pkt[] = {0x00, 0x00};
	attack_after_connect(pkt, sizeof(pkt), "packet type 0");
}

Test(hostile, server_only_packet_type_from_client_closes)
{
	static const uint8_t connack[] = {0x20, 0x02, 0x00, 0x00};
	attack_after_connect(connack, sizeof(connack), "CONNACK from a client");
}

Test(hostile, publish_qos_3_closes_MQTT_3_3_1_4)
{
	static const uint8_t pkt[] = {0x36, 5, 0, 1, 't', 0, 1};
	attack_after_connect(pkt, sizeof(pkt), "QoS 3");
}

Test(hostile, publish_qos1_with_packet_id_0_closes_MQTT_2_3_1_1)
{
	static const uint8_t pkt[] = {0x32, 6, 0, 1, 't', 0, 0, 'x'};
	attack_after_connect(pkt, sizeof(pkt), "packet id 0");
}

Test(hostile, pingreq_with_body_closes_MQTT_3_12)
{
	static const uint8_t pkt[] = {0xC0, 0x01, 0x00};
	attack_after_connect(pkt, sizeof(pkt), "PINGREQ with a body");
}

Test(hostile, topic_with_nul_character_closes_MQTT_1_5_3_2)
{
	static const uint8_t pkt[] = {0x30, 5, 0, 3, 'a', 0, 'b'};
	attack_after_connect(pkt, sizeof(pkt), "U+0000 in topic");
}

Test(hostile, topic_with_utf16_surrogate_closes_MQTT_1_5_3_1)
{
	static const uint8_t pkt[] = {0x30, 5, 0, 3, 0xED, 0xA0, 0x80};
	attack_after_connect(pkt, sizeof(pkt), "surrogate in topic");
}

Test(hostile, topic_with_invalid_utf8_closes_MQTT_1_5_3_1)
{
	static const uint8_t pkt[] = {0x30, 4, 0, 2, 0xC0, 0x80};
	attack_after_connect(pkt, sizeof(pkt), "overlong encoding in topic");
}

Test(hostile, pubrel_with_wrong_flags_closes_MQTT_3_6_1_1)
{
	static const uint8_t pkt[] = {0x60, 2, 0, 1};
	attack_after_connect(pkt, sizeof(pkt), "PUBREL flags 0000");
}

Test(hostile, oversized_packet_refused_from_its_header_alone)
{
	struct canary c;
	canary_up(&c, &broker);
	struct raw r;
	raw_connect_simple(&r, broker.port, "big");
	/* announce 200 MB, send nothing more: the broker must not wait for it */
	static const uint8_t hdr[] = {0x30, 0x80, 0x80, 0x80, 0x60};
	raw_send(&r, hdr, sizeof(hdr));
	cr_assert(raw_closed_within(&r, 3000, NULL));
	raw_close(&r);
	canary_down(&c, "200 MB announced");
}

Test(hostile, garbage_instead_of_connect_closes)
{
	struct canary c;
	canary_up(&c, &broker);
	struct raw r;
	raw_open(&r, broker.port);
	static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	raw_send(&r, junk, sizeof(junk) - 1);
	uint8_t last = 0;
	cr_assert(raw_closed_within(&r, 3000, &last));
	cr_assert_eq(last, 0);
	raw_close(&r);
	canary_down(&c, "HTTP instead of CONNECT");
}

Test(hostile, every_packet_split_into_single_bytes_still_works)
{
	struct canary can;
	canary_up(&can, &broker);
	struct raw sub;
	raw_connect_simple(&sub, broker.port, "sub");
	raw_subscribe(&sub, 1, "slow/#", 1);

	struct raw r;
	raw_open(&r, broker.port);
	struct buf b;
	buf_init(&b);
	struct mqtt_connect c = {.version = MQTT_V311, .clean_start = true, .keepalive_s = 30,
				 .client_id = {"trickle", 7}};
	mqtt_encode_connect(&b, &c);
	struct mqtt_publish p = {.qos = 1, .topic = {"slow/t", 6}, .packet_id = 3,
				 .payload = {(const uint8_t *)"drip", 4}};
	mqtt_encode_publish(&b, MQTT_V311, &p);
	mqtt_encode_empty(&b, MQTT_PINGREQ);
	for (size_t i = 0; i < buf_used(&b); i++) {
		raw_send(&r, buf_head(&b) + i, 1);
		usleep(2000);
	}
	buf_fini(&b);
	struct mqtt_frame f;
	raw_expect(&r, MQTT_CONNACK, &f);
	cr_assert_eq(raw_expect_ack(&r, MQTT_PUBACK), 3);
	raw_expect(&r, MQTT_PINGRESP, &f);
	struct mqtt_publish got;
	raw_expect_publish(&sub, &got);
	raw_assert_publish(&got, "slow/t", "drip");
	raw_close(&r);
	raw_close(&sub);
	canary_down(&can, "one byte at a time");
}

Test(hostile, many_packets_in_one_write_all_processed)
{
	struct canary can;
	canary_up(&can, &broker);
	struct raw r;
	raw_connect_simple(&r, broker.port, "burst");
	struct buf b;
	buf_init(&b);
	for (int i = 0; i < 500; i++)
		mqtt_encode_empty(&b, MQTT_PINGREQ);
	raw_send_buf(&r, &b);
	buf_fini(&b);
	for (int i = 0; i < 500; i++) {
		struct mqtt_frame f;
		raw_expect(&r, MQTT_PINGRESP, &f);
	}
	raw_close(&r);
	canary_down(&can, "500 PINGREQs in one write");
}

/* A subscriber that never reads. A publisher on its worker is paused
 * while its output is over the high watermark; either way its output is
 * capped (QoS 0 dropped above max_output_buffer, 8 MiB), and once it has written nothing
 * for slow_consumer_timeout (5 s) with output over the high watermark it is closed as
 * a stuck consumer. The broker does not grow without bound, and a reading
 * subscriber on the same topic gets every message meanwhile. */
Test(hostile, subscriber_that_stops_reading_does_not_grow_the_broker)
{
	struct raw stuck, healthy, pub;
	raw_connect_simple(&stuck, broker.port, "stuck");
	raw_subscribe(&stuck, 1, "firehose", 0);
	raw_connect_simple(&healthy, broker.port, "healthy");
	raw_subscribe(&healthy, 1, "firehose", 0);
	raw_connect_simple(&pub, broker.port, "pub");
	long rss_before = broker_rss_kb(&broker);
	static char payload[10000];
	memset(payload, 'p', sizeof(payload) - 1);
	/* 3000 x 10 kB = 30 MB sent at the stuck subscriber */
	for (int i = 0; i < 3000; i++) {
		raw_publish(&pub, "firehose", payload, 0, false, 0);
		/* the publisher may be held back until the stuck reader is found
		 * out (5 s without progress, twice if the kernel still took some
		 * bytes at first): wait longer than that for each message */
		struct mqtt_frame f;
		cr_assert_eq(raw_recv(&healthy, &f, 30000), FM_OK, "message %d never arrived", i);
		struct mqtt_publish p;
		uint8_t reason;
		cr_assert(mqtt_decode_publish(&f, MQTT_V311, &p, &reason) == FM_OK);
		cr_assert_eq(p.payload.len, sizeof(payload) - 1);
	}
	long grown = broker_rss_kb(&broker) - rss_before;
	cr_log_info("broker RSS grew by %ld kB while a subscriber was stuck", grown);
	/* the output cap is 8 MiB of content (a buffer of at most 16 MiB);
	 * a sanitizer's own memory (ASan's quarantine, TSan's shadow) makes
	 * RSS meaningless there */
	if (!broker_sanitized())
		cr_assert_lt(grown, 32 * 1024, "broker grew %ld kB buffering for a stuck subscriber", grown);
	/* not reading at all (reading would make it a slow, not a stuck, consumer) */
	cr_assert(hb_log_contains(&broker, "slow consumer: output not draining", 15000),
		  "stuck consumer was not closed");
	cr_assert(raw_closed_within(&stuck, 10000, NULL));
	raw_close(&stuck);
	raw_close(&healthy);
	raw_close(&pub);
}

/* A subscriber that resets its connection while the broker still has
 * output queued for it: the failed write closes that client once, and the
 * broker keeps serving everyone else (this used to recurse until the stack
 * ran out). */
Test(hostile, reset_while_output_is_queued_closes_only_that_client)
{
	struct canary c;
	canary_up(&c, &broker);
	static char payload[10000];
	memset(payload, 'b', sizeof(payload) - 1);
	for (int round = 0; round < 3; round++) {
		struct raw gone, pub[4];
		raw_connect_simple(&gone, broker.port, "gone");
		raw_subscribe(&gone, 1, "burst", 0);
		for (int p = 0; p < 4; p++) {
			char id[16];
			snprintf(id, sizeof(id), "pub%d", p);
			raw_connect_simple(&pub[p], broker.port, id);
		}
		/* 4 x 500 x 10 kB at a subscriber that reads nothing, then it goes
		 * away while the broker still has output for it; the publishers
		 * keep going so the broker writes into the dead connection */
		for (int i = 0; i < 500; i++)
			for (int p = 0; p < 4; p++)
				raw_publish(&pub[p], "burst", payload, 0, false, 0);
		struct linger reset = {.l_onoff = 1, .l_linger = 0};
		if (round == 2)
			setsockopt(gone.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
		raw_close(&gone);
		for (int i = 0; i < 200; i++)
			for (int p = 0; p < 4; p++)
				raw_publish(&pub[p], "burst", payload, 0, false, 0);
		for (int p = 0; p < 4; p++) {
			raw_subscribe(&pub[p], 9, "sync", 0); /* a round trip through the broker */
			raw_close(&pub[p]);
		}
	}
	cr_assert(hb_alive(&broker), "broker died");
	canary_down(&c, "reset with output queued");
}

/* Random bytes after a valid CONNECT must only ever close that one
 * connection (fixed seed, bounded count). */
Test(hostile, random_bytes_never_harm_other_clients)
{
	struct canary c;
	canary_up(&c, &broker);
	srand(12345);
	uint8_t junk[512];
	for (int round = 0; round < 40; round++) {
		struct raw r;
		raw_connect_simple(&r, broker.port, "fuzzer");
		size_t n = 1 + (size_t)(rand() % (int)sizeof(junk));
		for (size_t i = 0; i < n; i++)
			junk[i] = (uint8_t)rand();
		raw_send(&r, junk, n);
		raw_closed_within(&r, 200, NULL); /* closed or waiting for more: both fine */
		raw_close(&r);
	}
	cr_assert(hb_alive(&broker));
	canary_down(&c, "random bytes");
}
