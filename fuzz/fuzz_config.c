/* libFuzzer target: the config parser on arbitrary text. Whatever the
 * input, parsing either succeeds or fails with a message naming file and
 * line; it never crashes or leaks, and a parsed config always finishes
 * (embedded default listener) and frees cleanly. Inputs that name
 * include_dir are skipped: they would read the fuzzing machine's files. */
#include "config/conf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strstr(text, "include_dir")) {
		free(text);
		return 0;
	}
	struct conf c;
	struct fm_errbuf eb = {{0}};
	conf_init(&c);
	int rc = conf_load_string(&c, "fuzz.conf", text, &eb);
	if (rc == 0)
		rc = conf_finish(&c, &eb);
	else if (strncmp(eb.msg, "fuzz.conf:", 10) != 0)
		abort(); /* a parse error must name the file and line */
	conf_fini(&c);
	free(text);
	return 0;
}
