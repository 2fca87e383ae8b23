/* fleetmq: parse the command line, load the config, run the broker.
 * No logic lives here beyond wiring. */
#include "config/conf.h"
#include "admin/admin.h"
#include "bridge/bridge.h"
#include "proto/broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"fleetmq %s - an MQTT broker for large IoT fleets\n"
		"\n"
		"usage: fleetmq [-c FILE] [-p PORT] [-v]\n"
		"\n"
		"  -c FILE     read the configuration from FILE (mosquitto.conf syntax)\n"
		"  -p PORT     listen on 127.0.0.1:PORT instead of the default 1883\n"
		"              (only when the configuration defines no listener)\n"
		"  -v          verbose: log every log_type\n"
		"  -h, --help  this text\n"
		"  --version   print the version\n"
		"\n"
		"Without -c, fleetmq listens on 127.0.0.1:1883 and allows anonymous clients.\n",
		FLEETMQ_VERSION);
}

struct args {
	const char *conf_path;
	long port;      /* -1: not given */
	bool verbose;
};

/* Returns 0 to run, 1 to exit successfully, 2 on a usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
	a->conf_path = NULL;
	a->port = -1;
	a->verbose = false;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
			usage(stdout);
			return 1;
		} else if (!strcmp(s, "--version")) {
			printf("fleetmq %s\n", FLEETMQ_VERSION);
			return 1;
		} else if (!strcmp(s, "-v") || !strcmp(s, "--verbose")) {
			a->verbose = true;
		} else if ((!strcmp(s, "-c") || !strcmp(s, "--config-file")) && i + 1 < argc) {
			a->conf_path = argv[++i];
		} else if ((!strcmp(s, "-p") || !strcmp(s, "--port")) && i + 1 < argc) {
			char *end;
			a->port = strtol(argv[++i], &end, 10);
			if (*end || a->port < 1 || a->port > 65535) {
				fprintf(stderr, "fleetmq: -p: invalid port '%s'\n", argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr, "fleetmq: unknown or incomplete option '%s'\n\n", s);
			usage(stderr);
			return 2;
		}
	}
	return 0;
}

/* Bridges are parsed and checked (src/config/conf_bridge.c) but nothing
 * runs them yet: a config that asks for one is refused rather than
 * silently ignored. The bridge runtime replaces this check. */
static int load_conf(const struct args *a, struct conf *c, struct fm_errbuf *eb)
{
	conf_init(c);
	if (a->conf_path && conf_load_file(c, a->conf_path, eb) != FM_OK)
		return FM_ECONFIG;
	if (a->port >= 0) {
		if (c->n_listeners > 0)
			return fm_errbuf_set(eb, "-p cannot be combined with listeners in %s", a->conf_path);
		if (conf_load_string(c, "-p", "listener 0 127.0.0.1\n", eb) != FM_OK)
			return FM_ECONFIG;
		/* anonymous on this loopback listener only, so that a reload of a
		 * file without listeners does not take it away */
		c->listeners[0].port = (uint16_t)a->port;
		c->listeners[0].allow_anonymous = 1;
	}
	if (a->verbose) {
		c->log_types = 0xff;
		c->log_types_fixed = true;
	}
	return conf_finish(c, eb);
}

int main(int argc, char **argv)
{
	struct args a;
	int r = parse_args(argc, argv, &a);
	if (r)
		return r == 1 ? EXIT_SUCCESS : 2;
	struct conf c;
	struct fm_errbuf eb = { { 0 } };
	if (load_conf(&a, &c, &eb) != FM_OK) {
		fprintf(stderr, "fleetmq: %s\n", eb.msg);
		conf_fini(&c);
		return 3;
	}
	struct broker b;
	int rc = broker_init(&b, &c, a.conf_path, &eb);
	if (rc == FM_OK)
		rc = bridges_init(&b, &eb); /* they connect once the workers run */
	if (rc == FM_OK)
		rc = admin_start(&b, &eb);
	if (rc == FM_OK)
		rc = broker_run(&b); /* stops the HTTP server as it starts stopping */
	else
		fprintf(stderr, "fleetmq: %s\n", eb.msg);
	admin_stop(&b);
	bridges_fini(&b); /* the workers are gone; their sessions are not yet */
	broker_fini(&b);
	return rc == FM_OK ? EXIT_SUCCESS : 1;
}
