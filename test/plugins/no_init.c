/* A plugin that lacks fm_plugin_init: the broker must refuse it, naming the
 * three functions a plugin exports. */
#include "fleetmq/plugin.h"

FM_PLUGIN_EXPORT int fm_plugin_version(void)
{
	return FM_PLUGIN_API_VERSION;
}

FM_PLUGIN_EXPORT void fm_plugin_cleanup(void *user_data)
{
	(void)user_data;
}
