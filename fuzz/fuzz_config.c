/* libFuzzer target: the config parser on arbitrary text. Whatever the
 * input, parsing and then conf_finish (the embedded default listener, the
 * bridges' derived defaults and checks) either succeed or fail with a
 * message naming file and line; neither crashes or leaks, and the config
 * frees cleanly. Inputs that name include_dir are skipped: they would read
 * the fuzzing machine's files. */
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
	if (rc != 0 && strncmp(eb.msg, "fuzz.conf:", 10) != 0)
		abort(); /* an error must name the file and line */
	conf_fini(&c);
	free(text);
	return 0;
}
