/* passwd_check FILE USER PASSWORD: does src/auth accept this password? For
 * the interop test: files written by mosquitto_passwd are checked with the
 * broker's own reader. Exit 0 accepted, 1 refused, 2 file not loaded. */
#include "auth/passwd.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: passwd_check FILE USER PASSWORD\n");
		return 2;
	}
	struct passwd_db *db = NULL;
	struct fm_errbuf eb = {{0}};
	if (passwd_db_load(argv[1], &db, &eb) != FM_OK) {
		fprintf(stderr, "passwd_check: %s\n", eb.msg);
		return 2;
	}
	bool ok = passwd_db_check(db, argv[2], strlen(argv[2]), (const unsigned char *)argv[3], strlen(argv[3]));
	passwd_db_free(db);
	return ok ? 0 : 1;
}
