/*
 * test_vcache - the outbreak verdict cache (src/vcache.h is the spec).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vcache.h"

/* key - a deterministic fake SHA-256 for number i */
static void key(unsigned i, unsigned char sha[32])
{
	uint64_t x = i * 0x9E3779B97F4A7C15ull + 1;
	for (int k = 0; k < 32; k++) {
		x ^= x >> 29;
		x *= 0xBF58476D1CE4E5B9ull;
		sha[k] = (unsigned char)(x >> 56);
	}
}

static void test_put_get(void **state)
{
	(void)state;
	struct vcache *c = vcache_new(8, 0);
	unsigned char a[32], b[32];
	key(1, a);
	key(2, b);
	char *names[] = {"Worm.SobigF", "Other"};
	struct vcache_entry e;
	assert_false(vcache_get(c, a, 7, &e));
	vcache_put(c, a, 7, VCACHE_VIRUS, names, 2);
	vcache_put(c, b, 7, VCACHE_CLEAN, NULL, 0);
	assert_true(vcache_get(c, a, 7, &e));
	assert_int_equal(e.status, VCACHE_VIRUS);
	assert_int_equal(e.nnames, 2);
	assert_string_equal(e.names[0], "Worm.SobigF");
	assert_string_equal(e.names[1], "Other");
	vcache_entry_clear(&e);
	assert_true(vcache_get(c, b, 7, &e));
	assert_int_equal(e.status, VCACHE_CLEAN);
	assert_int_equal(e.nnames, 0);
	vcache_entry_clear(&e);
	/* The same payload under another database version is a miss. */
	assert_false(vcache_get(c, a, 8, &e));
	unsigned long long hits, misses;
	vcache_stats(c, &hits, &misses);
	assert_int_equal(hits, 2);
	assert_int_equal(misses, 2);
	vcache_free(c);
}

static void test_lru_eviction(void **state)
{
	(void)state;
	struct vcache *c = vcache_new(3, 0);
	unsigned char k[5][32];
	struct vcache_entry e;
	for (unsigned i = 0; i < 5; i++)
		key(i, k[i]);
	vcache_put(c, k[0], 1, VCACHE_CLEAN, NULL, 0);
	vcache_put(c, k[1], 1, VCACHE_CLEAN, NULL, 0);
	vcache_put(c, k[2], 1, VCACHE_CLEAN, NULL, 0);
	assert_true(vcache_get(c, k[0], 1, &e)); /* 0 is now the most recent */
	vcache_entry_clear(&e);
	vcache_put(c, k[3], 1, VCACHE_CLEAN, NULL, 0); /* evicts 1, the least recent */
	assert_false(vcache_get(c, k[1], 1, &e));
	assert_true(vcache_get(c, k[0], 1, &e));
	vcache_entry_clear(&e);
	assert_true(vcache_get(c, k[2], 1, &e));
	vcache_entry_clear(&e);
	assert_true(vcache_get(c, k[3], 1, &e));
	vcache_entry_clear(&e);
	assert_int_equal(vcache_size(c), 3);
	vcache_free(c);
}

static void test_replace_keeps_capacity(void **state)
{
	(void)state;
	struct vcache *c = vcache_new(4, 0);
	unsigned char k[32];
	char *v[] = {"V"};
	struct vcache_entry e;
	key(42, k);
	/* Replacing one key many times must not use up the other slots. */
	for (int i = 0; i < 100; i++)
		vcache_put(c, k, 1, i % 2 ? VCACHE_VIRUS : VCACHE_CLEAN, v, i % 2 ? 1 : 0);
	assert_true(vcache_get(c, k, 1, &e));
	assert_int_equal(e.status, VCACHE_VIRUS);
	vcache_entry_clear(&e);
	unsigned char o[3][32];
	for (unsigned i = 0; i < 3; i++) {
		key(100 + i, o[i]);
		vcache_put(c, o[i], 1, VCACHE_CLEAN, NULL, 0);
	}
	assert_int_equal(vcache_size(c), 4);
	assert_true(vcache_get(c, k, 1, &e));
	vcache_entry_clear(&e);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(vcache_get(c, o[i], 1, &e));
		vcache_entry_clear(&e);
	}
	vcache_free(c);
}

static void test_ttl(void **state)
{
	(void)state;
	struct vcache *c = vcache_new(4, 1);
	unsigned char k[32];
	struct vcache_entry e;
	key(5, k);
	vcache_put(c, k, 1, VCACHE_CLEAN, NULL, 0);
	assert_true(vcache_get(c, k, 1, &e));
	vcache_entry_clear(&e);
	sleep(2);
	assert_false(vcache_get(c, k, 1, &e));
	vcache_free(c);
}

static void test_disabled(void **state)
{
	(void)state;
	struct vcache *c = vcache_new(0, 0);
	unsigned char k[32];
	struct vcache_entry e;
	key(1, k);
	vcache_put(c, k, 1, VCACHE_CLEAN, NULL, 0);
	assert_false(vcache_get(c, k, 1, &e));
	vcache_free(c);
}

/* A reference model: random puts and gets agree with a plain LRU list. */
static void test_against_model(void **state)
{
	(void)state;
	enum { CAP = 37, KEYS = 120, OPS = 200000 };
	struct vcache *c = vcache_new(CAP, 0);
	unsigned model[CAP]; /* keys, most recent first */
	size_t nmodel = 0;
	unsigned seed = 12345;
	for (int op = 0; op < OPS; op++) {
		seed = seed * 1103515245 + 12345;
		unsigned k = (seed >> 8) % KEYS;
		bool put = (seed >> 4) & 1;
		unsigned char sha[32];
		key(k, sha);
		size_t at = nmodel;
		for (size_t i = 0; i < nmodel; i++)
			if (model[i] == k)
				at = i;
		struct vcache_entry e;
		if (put) {
			vcache_put(c, sha, 3, VCACHE_CLEAN, NULL, 0);
			if (at == nmodel && nmodel == CAP)
				at = CAP - 1; /* the least recent is evicted */
			else if (at == nmodel)
				nmodel++;
			memmove(model + 1, model, at * sizeof(model[0]));
			model[0] = k;
		} else {
			bool hit = vcache_get(c, sha, 3, &e);
			vcache_entry_clear(&e);
			assert_int_equal(hit, at < nmodel);
			if (hit) {
				memmove(model + 1, model, at * sizeof(model[0]));
				model[0] = k;
			}
		}
	}
	assert_int_equal(vcache_size(c), nmodel);
	vcache_free(c);
}

static void *hammer(void *arg)
{
	struct vcache *c = arg;
	char *v[] = {"X"};
	for (unsigned i = 0; i < 20000; i++) {
		unsigned char sha[32];
		key(i % 300, sha);
		struct vcache_entry e;
		if (vcache_get(c, sha, 1, &e))
			vcache_entry_clear(&e);
		else
			vcache_put(c, sha, 1, VCACHE_VIRUS, v, 1);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct vcache *c = vcache_new(100, 0);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, c), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	unsigned long long hits, misses;
	vcache_stats(c, &hits, &misses);
	assert_int_equal(hits + misses, 80000);
	assert_int_equal(vcache_size(c), 100);
	vcache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get),	      cmocka_unit_test(test_lru_eviction),
		cmocka_unit_test(test_replace_keeps_capacity), cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_disabled),      cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests_name("vcache", tests, NULL, NULL);
}
