/* A plugin built for a plugin API this broker does not speak (999): the
 * broker must refuse it before running any of its code but
 * fm_plugin_version, naming both numbers and the file. Its init would
 * register nothing and say so, so a test can tell if it ran. */
#include "fleetmq/plugin.h"

FM_PLUGIN_EXPORT int fm_plugin_version(void)
{
	return 999;
}

FM_PLUGIN_EXPORT int fm_plugin_init(struct fm_plugin *p, const struct fm_plugin_opt *opts, size_t n_opts,
				    void **user_data)
{
	(void)opts;
	(void)n_opts;
	(void)user_data;
	fm_plugin_log(p, FM_LOG_ERROR, "bad_version: init ran although the version was refused");
	return FM_OK;
}

FM_PLUGIN_EXPORT void fm_plugin_cleanup(void *user_data)
{
	(void)user_data;
}
