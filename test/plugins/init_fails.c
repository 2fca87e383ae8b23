/* A plugin whose init fails (as one with a bad option would): it logs why
 * and returns FM_ECONFIG; the broker must not start, and must not call
 * fm_plugin_cleanup for it (plugin.h: cleanup follows a successful init). */
#include "fleetmq/plugin.h"

#include <stdio.h>

FM_PLUGIN_EXPORT int fm_plugin_version(void)
{
	return FM_PLUGIN_API_VERSION;
}

FM_PLUGIN_EXPORT int fm_plugin_init(struct fm_plugin *p, const struct fm_plugin_opt *opts, size_t n_opts,
				    void **user_data)
{
	(void)user_data;
	fm_plugin_log(p, FM_LOG_ERROR, "init_fails: refusing to start on purpose (%zu options, first %s)", n_opts,
		      n_opts ? opts[0].name : "none");
	return FM_ECONFIG;
}

/* Must not run: cleanup follows a successful init only. stderr is what the
 * test captures, so the line would show there. */
FM_PLUGIN_EXPORT void fm_plugin_cleanup(void *user_data)
{
	(void)user_data;
	fputs("init_fails: cleanup called after a failed init\n", stderr);
}
