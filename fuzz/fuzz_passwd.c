/* libFuzzer target: the password-file parser on arbitrary text. Parsing
 * either succeeds or fails with a message naming file and line; it never
 * crashes or leaks. A parsed file answers lookups of every user it holds
 * (found by re-reading the input's "name:" prefixes), and a check against
 * a user that is not there is false. Passwords are not checked against
 * entries: an input may ask for millions of PBKDF2 iterations. */
#include "auth/passwd.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every parsed line's username must be found (blanks and '\r' around it
 * are not part of it, as in passwd.c). */
static void look_up_all(const struct passwd_db *db, const char *text)
{
	for (const char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		while (*line == ' ' || *line == '\t')
			line++;
		const char *colon = strchr(line, ':');
		const char *nl = strchr(line, '\n');
		if (*line == '#' || !colon || (nl && nl < colon))
			continue;
		size_t len = (size_t)(colon - line);
		while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
			len--;
		if (len && !passwd_db_has_user(db, line, len))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct passwd_db *db = NULL;
	struct fm_errbuf eb = {{0}};
	int rc = passwd_db_parse("fuzz.pw", text, &db, &eb);
	if (rc == 0) {
		look_up_all(db, text);
		if (passwd_db_has_user(db, "\x01no such user", 13))
			abort();
		passwd_db_free(db);
	} else if (strncmp(eb.msg, "fuzz.pw:", 8) != 0 && strncmp(eb.msg, "out of memory", 13) != 0) {
		abort(); /* a parse error must name the file and line */
	}
	free(text);
	return 0;
}
