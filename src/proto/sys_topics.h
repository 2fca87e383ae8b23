/* $SYS topics (mosquitto's names and formats): every sys_interval seconds
 * the broker publishes its statistics as retained QoS 0 messages through
 * the ordinary router, so subscribers on any worker get them and late ones
 * get the retained values. Clients cannot publish there (publish.c), and
 * wildcard filters at the first level do not match them [MQTT-4.7.2-1]. */
#ifndef FM_PROTO_SYS_TOPICS_H
#define FM_PROTO_SYS_TOPICS_H

struct worker;

/* Start, re-time or stop publishing after w->lim.sys_interval_s: at the
 * worker's start and after every reload. Does nothing on any worker but
 * worker 0, which is the publisher. Runs on w's thread. */
void sys_topics_configure(struct worker *w);
/* Stop publishing and free the state (w's thread, before it stops). */
void sys_topics_stop(struct worker *w);
/* Publish text on topic as a retained QoS 0 message kept in memory only
 * (it describes this run), through the router: on w's thread. Out of
 * memory: not published (the next interval tries again). */
void sys_publish_text(struct worker *w, const char *topic, const char *text);

#endif
