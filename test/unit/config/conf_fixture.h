/* The fixture every config test file starts from: one struct conf and
 * error buffer per file (each file is its own translation unit, so these
 * statics are its own), fresh for every test. Use it as
 *   TestSuite(NAME, .init = conf_fixture_setup, .fini = conf_fixture_teardown); */
#ifndef FM_TEST_CONF_FIXTURE_H
#define FM_TEST_CONF_FIXTURE_H

#include "config/conf.h"
#include "core/err.h"

#include <string.h>

static struct conf c;
static struct fm_errbuf eb;

static inline void conf_fixture_setup(void)
{
	conf_init(&c);
	memset(&eb, 0, sizeof(eb));
}

static inline void conf_fixture_teardown(void) { conf_fini(&c); }

#endif
