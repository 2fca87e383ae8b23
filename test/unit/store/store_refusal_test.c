/* What store_open() must refuse, and how: a non-zero return with a message
 * that says why, and the file that was there left exactly as it was (the
 * store never deletes or rewrites data it cannot read). Each case builds
 * the bad situation by hand in the test's own directory. */
#include "store_util.h"

#include <criterion/criterion.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct fm_errbuf eb;

static void setup(void)
{
	tmp_setup();
	memset(&eb, 0, sizeof(eb));
}

TestSuite(store_refusal, .init = setup, .fini = tmp_teardown, .timeout = 20);

static void assert_says(const char *words)
{
	cr_assert_not_null(strstr(eb.msg, words), "message '%s' does not say '%s'", eb.msg, words);
}

/* The store directory exists, with fleetmq.db holding len bytes of data. */
static void put_db_file(const void *data, size_t len)
{
	cr_assert_eq(mkdir(t_store_dir, 0750), 0);
	file_write(t_db_path, data, len);
}

Test(store_refusal, directory_that_cannot_be_created_is_refused)
{
	char file[128], dir[160];
	snprintf(file, sizeof(file), "%s/plain-file", t_dir);
	snprintf(dir, sizeof(dir), "%s/store", file);
	file_write(file, "x", 1);
	cr_assert_neq(try_open(dir, &eb), FM_OK);
	assert_says("cannot be created");
	assert_says(dir);
}

Test(store_refusal, directory_path_naming_a_regular_file_is_refused)
{
	char file[128];
	snprintf(file, sizeof(file), "%s/plain-file", t_dir);
	file_write(file, "x", 1);
	cr_assert_neq(try_open(file, &eb), FM_OK);
	assert_says("not a directory");
}

/* store_open(dir) as nobody (65534), in a child: root ignores permission
 * bits, nobody does not. The child's message comes back through a pipe
 * into eb; returns whether its open succeeded. */
static bool opens_as_nobody(const char *dir)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		struct fm_errbuf child_eb = { { 0 } };
		int rc = try_open(dir, &child_eb);
		ssize_t n = write(fds[1], child_eb.msg, strlen(child_eb.msg));
		(void)n;
		_exit(rc == FM_OK ? 1 : 0);
	}
	close(fds[1]);
	ssize_t n = read(fds[0], eb.msg, sizeof(eb.msg) - 1);
	close(fds[0]);
	cr_assert_geq(n, 0);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the child died: status %d", status);
	cr_assert_neq(WEXITSTATUS(status), 2, "the child could not drop root");
	return WEXITSTATUS(status) == 1;
}

Test(store_refusal, directory_that_is_not_writable_is_refused)
{
	cr_assert_eq(chmod(t_dir, 0755), 0, "nobody must reach the store directory");
	cr_assert_eq(mkdir(t_store_dir, 0555), 0);
	cr_assert_not(opens_as_nobody(t_store_dir), "store_open succeeded in a read-only directory");
	assert_says("not writable");
	struct stat sb;
	cr_assert_neq(stat(t_db_path, &sb), 0, "no database was created");
}

/* A store the broker's user may read but not write (left behind by a run
 * as another user): refused before anything is written, not reported as
 * foreign or damaged. */
Test(store_refusal, database_file_that_is_not_writable_is_refused_and_left_untouched)
{
	struct store *st = open_store(STORE_FULL, 0);
	struct store_batch b;
	store_batch_init(&b, done_nothing);
	cr_assert_eq(store_session_put(&b, S("c1"), 0, 0), FM_OK);
	apply_ok(st, &b);
	store_batch_fini(&b);
	store_close(st);
	cr_assert_eq(chmod(t_dir, 0755), 0);
	cr_assert_eq(chmod(t_store_dir, 0777), 0, "the directory is writable, only the file is not");
	cr_assert_eq(chmod(t_db_path, 0644), 0);
	size_t len;
	uint8_t *before = file_read(t_db_path, &len);
	cr_assert_not(opens_as_nobody(t_store_dir), "store_open succeeded on a read-only database");
	file_assert_same(t_db_path, before, len);
	assert_says("not writable");
	free(before);
}

Test(store_refusal, file_of_random_bytes_is_refused_and_left_unchanged)
{
	uint8_t junk[8192];
	srand(12345);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	put_db_file(junk, sizeof(junk));
	cr_assert_neq(try_open(t_store_dir, &eb), FM_OK);
	assert_says("not a fleetmq database");
	assert_says(t_db_path);
	file_assert_same(t_db_path, junk, sizeof(junk));
}

/* Someone else's sqlite database, as sqlite makes it by default (rollback
 * journal): not ours, so not a byte of it may change. */
Test(store_refusal, sqlite_database_without_our_schema_is_refused_and_left_untouched)
{
	cr_assert_eq(mkdir(t_store_dir, 0750), 0);
	db_exec(t_db_path, "CREATE TABLE accounts(name TEXT, balance INTEGER);"
			   "INSERT INTO accounts VALUES('ann', 100), ('bob', 7);");
	size_t len;
	uint8_t *before = file_read(t_db_path, &len);
	cr_assert_neq(try_open(t_store_dir, &eb), FM_OK);
	assert_says("not a fleetmq store");
	file_assert_same(t_db_path, before, len);
	free(before);
}

/* A store a later fleetmq wrote (WAL, as every fleetmq store is): one
 * version past ours (3, with this build at schema 2) is refused, not
 * migrated or "repaired", and the message names the version found. */
Test(store_refusal, database_with_a_newer_schema_version_is_refused_and_left_untouched)
{
	cr_assert_eq(mkdir(t_store_dir, 0750), 0);
	char sql[256], says[64];
	snprintf(sql, sizeof(sql),
		 "PRAGMA journal_mode=WAL; CREATE TABLE schema_version(version INTEGER NOT NULL);"
		 "INSERT INTO schema_version VALUES(%d); CREATE TABLE future_things(x);",
		 STORE_SCHEMA_VERSION + 1);
	db_exec(t_db_path, sql);
	size_t len;
	uint8_t *before = file_read(t_db_path, &len);
	cr_assert_neq(try_open(t_store_dir, &eb), FM_OK);
	assert_says("newer");
	snprintf(says, sizeof(says), "schema version %d", STORE_SCHEMA_VERSION + 1);
	assert_says(says);
	file_assert_same(t_db_path, before, len);
	free(before);
}

/* Ours by its tables, but no version in it: which migrations would apply
 * is unknown, so it is refused rather than guessed at. */
Test(store_refusal, database_without_a_schema_version_row_is_refused_and_left_untouched)
{
	cr_assert_eq(mkdir(t_store_dir, 0750), 0);
	db_exec(t_db_path, "PRAGMA journal_mode=WAL; CREATE TABLE schema_version(version INTEGER NOT NULL);");
	size_t len;
	uint8_t *before = file_read(t_db_path, &len);
	cr_assert_neq(try_open(t_store_dir, &eb), FM_OK);
	assert_says("no valid schema version");
	file_assert_same(t_db_path, before, len);
	free(before);
}

/* Two brokers on one directory would corrupt each other's state: the
 * second open fails while the first store is open, and the first keeps
 * working and keeps its data. */
Test(store_refusal, database_held_by_an_open_store_is_refused_as_locked)
{
	struct store *first = open_store(STORE_FULL, 0);
	cr_assert_neq(try_open(t_store_dir, &eb), FM_OK);
	assert_says("locked");

	struct store_batch b;
	store_batch_init(&b, done_nothing);
	cr_assert_eq(store_session_put(&b, S("still-mine"), 0, 0), FM_OK);
	apply_ok(first, &b);
	store_batch_fini(&b);
	store_close(first);

	struct loaded ld;
	reload(&ld); /* and the lock went with the first store */
	cr_assert_not_null(rec_session(&ld, "still-mine"));
	loaded_free(&ld);
}

/* A valid store with many rows, then one page in the middle of the file
 * overwritten. The bulk is retained messages, which store_load() reads in
 * full, so the damaged page is one the load must read. */
Test(store_refusal, damaged_database_fails_to_load_without_crash_or_change)
{
	struct store *st = open_store(STORE_FULL, 0);
	struct store_batch b;
	store_batch_init(&b, done_nothing);
	char payload[120];
	memset(payload, 'p', sizeof(payload));
	for (int i = 0; i < 3000; i++) {
		char topic[32];
		snprintf(topic, sizeof(topic), "retained/%05d", i);
		cr_assert_eq(put_retained(&b, S(topic), payload, sizeof(payload), 1), FM_OK);
	}
	cr_assert_eq(store_session_put(&b, S("c1"), 0, 0), FM_OK);
	apply_ok(st, &b);
	store_batch_fini(&b);
	store_close(st);

	size_t len;
	uint8_t *bytes = file_read(t_db_path, &len);
	const size_t page = 4096; /* sqlite's default page size */
	cr_assert_gt(len / page, 40, "expected a database of many pages, got %zu bytes", len);
	size_t at = (len / page / 2) * page;
	memset(bytes + at, 0xa5, page);
	file_write(t_db_path, bytes, len);

	struct store_opts o = { .dir = t_store_dir, .durability = STORE_FULL };
	struct store *damaged = NULL;
	int rc = store_open(&damaged, &o, &eb);
	if (rc == FM_OK) {
		struct loaded ld = { 0 };
		struct store_loader l = recording_loader(&ld);
		uint64_t max;
		rc = store_load(damaged, &l, &max, &eb);
		store_close(damaged);
		loaded_free(&ld);
	}
	cr_assert_neq(rc, FM_OK, "a damaged database loaded without error");
	cr_log_info("refused with: %s", eb.msg);
	assert_says("damaged");
	assert_says(t_db_path);
	file_assert_same(t_db_path, bytes, len);
	free(bytes);
}
