/* End-to-end test of the C API, including its error paths. Exits 0 when every check
 * passes; prints the failing line otherwise. `acorn_test cycles N` instead runs N
 * open/stash/crack/free cycles (for leak checking under valgrind). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "acorn.h"

static int failures = 0;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: %s (last error: %s)\n", \
    __FILE__, __LINE__, #cond, acorn_last_error()); failures++; } } while (0)
#define S(str) (const uint8_t *)(str), strlen(str)

static int cycles(long n) {
    char key[32];
    uint8_t buf[64];
    for (long i = 0; i < n; i++) {
        AcornTree *t = NULL;
        if (acorn_open_memory(&t) != ACORN_OK) return 1;
        snprintf(key, sizeof key, "k%ld", i);
        if (acorn_stash(t, S(key), S("value"), NULL) != ACORN_OK) return 1;
        size_t len = 0;
        if (acorn_crack(t, S(key), buf, sizeof buf, &len) != ACORN_OK || len != 5) return 1;
        uint8_t *owned = NULL;
        if (acorn_crack_alloc(t, S(key), &owned, &len) != ACORN_OK) return 1;
        acorn_free_value(owned, len);
        AcornBatch *b = NULL;
        acorn_batch_new(t, &b);
        acorn_batch_stash(b, S("x"), S("y"));
        acorn_batch_commit(b, NULL);
        acorn_batch_free(b);
        AcornQuery *q = NULL;
        acorn_query_new(t, S(""), 0, 0, &q);
        acorn_query_free(q);
        if (acorn_close(t) != ACORN_OK) return 1;
    }
    printf("%ld cycles ok\n", n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "cycles") == 0) return cycles(atol(argv[2]));

    AcornTree *t = NULL;
    CHECK(acorn_open_memory(&t) == ACORN_OK && t != NULL);

    /* stash / crack / toss */
    uint64_t v1 = 0, v2 = 0;
    CHECK(acorn_stash(t, S("user-1"), S("{\"name\":\"ada\"}"), &v1) == ACORN_OK && v1 > 0);
    CHECK(acorn_stash(t, S("user-2"), S("{\"name\":\"grace\"}"), &v2) == ACORN_OK && v2 > v1);
    uint8_t buf[64];
    size_t len = 0;
    CHECK(acorn_crack(t, S("user-1"), buf, sizeof buf, &len) == ACORN_OK);
    CHECK(len == 14 && memcmp(buf, "{\"name\":\"ada\"}", 14) == 0);
    CHECK(acorn_crack(t, S("missing"), buf, sizeof buf, &len) == ACORN_NOT_FOUND);
    /* too-small buffer reports the needed size */
    len = 0;
    CHECK(acorn_crack(t, S("user-1"), buf, 4, &len) == ACORN_ERR_BUFFER_TOO_SMALL && len == 14);
    CHECK(strstr(acorn_last_error(), "does not fit") != NULL);
    uint8_t *owned = NULL;
    CHECK(acorn_crack_alloc(t, S("user-2"), &owned, &len) == ACORN_OK && len == 16);
    CHECK(owned != NULL && memcmp(owned, "{\"name\":\"grace\"}", 16) == 0);
    CHECK(acorn_free_value(owned, len) == ACORN_OK);
    int existed = -1;
    CHECK(acorn_toss(t, S("user-2"), &existed) == ACORN_OK && existed == 1);
    CHECK(acorn_toss(t, S("user-2"), &existed) == ACORN_OK && existed == 0);

    /* bad input */
    const uint8_t bad_utf8[] = {0xff, 0xfe};
    CHECK(acorn_stash(t, bad_utf8, 2, S("x"), NULL) == ACORN_ERR_UTF8);
    CHECK(acorn_stash(t, (const uint8_t *)"", 0, S("x"), NULL) == ACORN_ERR_INVALID_KEY);
    CHECK(acorn_stash(t, NULL, 3, S("x"), NULL) == ACORN_ERR_NULL);
    CHECK(acorn_stash(NULL, S("k"), S("x"), NULL) == ACORN_ERR_NULL);
    CHECK(acorn_crack(t, S("user-1"), NULL, 0, NULL) == ACORN_ERR_NULL);
    CHECK(acorn_open_memory(NULL) == ACORN_ERR_NULL);
    CHECK(acorn_open(NULL, &t) == ACORN_ERR_NULL);

    /* batches: atomic, and an invalid key fails the whole commit */
    AcornBatch *b = NULL;
    CHECK(acorn_batch_new(t, &b) == ACORN_OK);
    CHECK(acorn_batch_stash(b, S("b-1"), S("1")) == ACORN_OK);
    CHECK(acorn_batch_stash(b, S("b-2"), S("2")) == ACORN_OK);
    CHECK(acorn_batch_toss(b, S("user-1")) == ACORN_OK);
    uint64_t bv = 0;
    CHECK(acorn_batch_commit(b, &bv) == ACORN_OK && bv > v2);
    CHECK(acorn_batch_commit(b, &bv) == ACORN_ERR_INVALID_HANDLE); /* already committed */
    CHECK(acorn_batch_free(b) == ACORN_OK);
    CHECK(acorn_batch_free(b) == ACORN_ERR_INVALID_HANDLE); /* double free detected */
    CHECK(acorn_crack(t, S("user-1"), buf, sizeof buf, &len) == ACORN_NOT_FOUND);
    CHECK(acorn_batch_new(t, &b) == ACORN_OK);
    CHECK(acorn_batch_stash(b, S("never"), S("1")) == ACORN_OK);
    CHECK(acorn_batch_stash(b, (const uint8_t *)"", 0, S("2")) == ACORN_ERR_INVALID_KEY);
    CHECK(acorn_batch_commit(b, NULL) == ACORN_ERR_INVALID_KEY);
    CHECK(acorn_batch_free(b) == ACORN_OK);
    CHECK(acorn_crack(t, S("never"), buf, sizeof buf, &len) == ACORN_NOT_FOUND);
    /* any rejected operation fails the commit whole: a key that is not UTF-8, a null value */
    CHECK(acorn_batch_new(t, &b) == ACORN_OK);
    CHECK(acorn_batch_stash(b, S("never"), S("1")) == ACORN_OK);
    CHECK(acorn_batch_stash(b, bad_utf8, 2, S("2")) == ACORN_ERR_UTF8);
    CHECK(acorn_batch_toss(b, S("b-1")) == ACORN_OK);
    CHECK(acorn_batch_commit(b, &bv) == ACORN_ERR_UTF8); /* the first rejection's code */
    CHECK(acorn_batch_free(b) == ACORN_OK);
    CHECK(acorn_batch_new(t, &b) == ACORN_OK);
    CHECK(acorn_batch_toss(b, bad_utf8, 2) == ACORN_ERR_UTF8);
    CHECK(acorn_batch_stash(b, S("never"), NULL, 1) == ACORN_ERR_NULL);
    CHECK(acorn_batch_commit(b, NULL) == ACORN_ERR_UTF8);
    CHECK(acorn_batch_free(b) == ACORN_OK);
    CHECK(acorn_batch_new(t, &b) == ACORN_OK);
    CHECK(acorn_batch_stash(b, S("never"), NULL, 1) == ACORN_ERR_NULL);
    CHECK(acorn_batch_commit(b, NULL) == ACORN_ERR_NULL);
    CHECK(acorn_batch_free(b) == ACORN_OK);
    CHECK(acorn_crack(t, S("never"), buf, sizeof buf, &len) == ACORN_NOT_FOUND);
    CHECK(acorn_crack(t, S("b-1"), buf, sizeof buf, &len) == ACORN_OK);

    /* queries with prefix / skip / take and a cursor */
    for (int i = 0; i < 10; i++) {
        char k[16];
        snprintf(k, sizeof k, "q-%02d", i);
        CHECK(acorn_stash(t, S(k), S("v"), NULL) == ACORN_OK);
    }
    AcornQuery *q = NULL;
    CHECK(acorn_query_new(t, S("q-"), 2, 3, &q) == ACORN_OK);
    const uint8_t *k, *val;
    size_t kl, vl;
    CHECK(acorn_query_next(q, &k, &kl, &val, &vl) == ACORN_OK && kl == 4 && memcmp(k, "q-02", 4) == 0);
    CHECK(acorn_query_next(q, &k, &kl, &val, &vl) == ACORN_OK && memcmp(k, "q-03", 4) == 0 && vl == 1);
    CHECK(acorn_query_next(q, &k, &kl, &val, &vl) == ACORN_OK && memcmp(k, "q-04", 4) == 0);
    CHECK(acorn_query_next(q, &k, &kl, &val, &vl) == ACORN_NOT_FOUND);
    CHECK(acorn_query_free(q) == ACORN_OK);
    CHECK(acorn_query_free(q) == ACORN_ERR_INVALID_HANDLE);
    CHECK(acorn_query_new(t, S("q-"), 0, 0, &q) == ACORN_OK);
    int n = 0;
    while (acorn_query_next(q, &k, &kl, &val, &vl) == ACORN_OK) n++;
    CHECK(n == 10);
    CHECK(acorn_query_free(q) == ACORN_OK);

    CHECK(acorn_scan_new(t, S("q-07"), 5, &q) == ACORN_OK);
    n = 0;
    while (acorn_query_next(q, &k, &kl, &val, &vl) == ACORN_OK) n++;
    CHECK(n == 3);
    CHECK(acorn_query_free(q) == ACORN_OK);

    /* a time to live: 0 is expired at once, a long one is there */
    CHECK(acorn_stash_with_ttl(t, S("ttl-0"), S("v"), 0, NULL) == ACORN_OK);
    CHECK(acorn_crack(t, S("ttl-0"), buf, sizeof buf, &len) == ACORN_NOT_FOUND);
    CHECK(acorn_stash_with_ttl(t, S("ttl-long"), S("v"), 3600000, NULL) == ACORN_OK);
    CHECK(acorn_crack(t, S("ttl-long"), buf, sizeof buf, &len) == ACORN_OK && len == 1);
    CHECK(acorn_stash_with_ttl(t, (const uint8_t *)"", 0, S("v"), 10, NULL) == ACORN_ERR_INVALID_KEY);

    /* wrong kinds of handle are refused, not misused */
    CHECK(acorn_batch_new(t, &b) == ACORN_OK);
    CHECK(acorn_close((AcornTree *)b) == ACORN_ERR_INVALID_HANDLE);
    CHECK(acorn_stash((const AcornTree *)b, S("k"), S("v"), NULL) == ACORN_ERR_INVALID_HANDLE);
    CHECK(acorn_batch_free(b) == ACORN_OK);

    CHECK(acorn_close(t) == ACORN_OK);
    CHECK(acorn_close(t) == ACORN_ERR_INVALID_HANDLE);

    /* a durable tree, locked against a second open */
    if (argc == 2) {
        AcornTree *d = NULL, *d2 = NULL;
        CHECK(acorn_open(argv[1], &d) == ACORN_OK);
        CHECK(acorn_stash(d, S("durable"), S("yes"), NULL) == ACORN_OK);
        CHECK(acorn_open(argv[1], &d2) == ACORN_ERR_LOCKED);
        CHECK(acorn_close(d) == ACORN_OK);
        CHECK(acorn_open(argv[1], &d) == ACORN_OK);
        CHECK(acorn_crack(d, S("durable"), buf, sizeof buf, &len) == ACORN_OK && len == 3);

        /* the change feed: a stash, then a toss; read one change at a time */
        uint64_t tv = 0, until = 0;
        CHECK(acorn_toss(d, S("durable"), NULL) == ACORN_OK);
        AcornChanges *c = NULL;
        CHECK(acorn_changes_new(d, 0, &c, &until) == ACORN_OK && until == 2);
        int kind = 0;
        CHECK(acorn_changes_next(c, &kind, &tv, &k, &kl, &val, &vl) == ACORN_OK);
        CHECK(kind == ACORN_CHANGE_STASHED && tv == 1 && kl == 7 && memcmp(k, "durable", 7) == 0);
        CHECK(vl == 3 && memcmp(val, "yes", 3) == 0);
        CHECK(acorn_changes_next(c, &kind, &tv, &k, &kl, &val, &vl) == ACORN_OK);
        CHECK(kind == ACORN_CHANGE_TOSSED && tv == 2 && val == NULL && vl == 0);
        CHECK(acorn_changes_next(c, &kind, &tv, &k, &kl, &val, &vl) == ACORN_NOT_FOUND);
        CHECK(acorn_changes_next(c, NULL, &tv, &k, &kl, &val, &vl) == ACORN_ERR_NULL);
        CHECK(acorn_changes_free(c) == ACORN_OK);
        CHECK(acorn_changes_free(c) == ACORN_ERR_INVALID_HANDLE);
        CHECK(acorn_changes_new(d, until, &c, NULL) == ACORN_OK);
        CHECK(acorn_changes_next(c, &kind, &tv, &k, &kl, &val, &vl) == ACORN_NOT_FOUND);
        CHECK(acorn_changes_free(c) == ACORN_OK);

        /* a read-only tree beside the writer: refresh follows it, writes are refused */
        AcornTree *r = NULL;
        CHECK(acorn_open_read_only(argv[1], &r) == ACORN_OK);
        CHECK(acorn_stash(d, S("later"), S("1"), &tv) == ACORN_OK && tv == 3);
        CHECK(acorn_crack(r, S("later"), buf, sizeof buf, &len) == ACORN_NOT_FOUND);
        CHECK(acorn_refresh(r, &tv) == ACORN_OK && tv == 3);
        CHECK(acorn_crack(r, S("later"), buf, sizeof buf, &len) == ACORN_OK && len == 1);
        CHECK(acorn_stash(r, S("x"), S("y"), NULL) == ACORN_ERR_READ_ONLY);
        CHECK(strstr(acorn_last_error(), "read-only") != NULL);
        CHECK(acorn_open_read_only(NULL, &r) == ACORN_ERR_NULL);

        /* a checkpoint opens at exactly its version */
        char copy[4096];
        snprintf(copy, sizeof copy, "%s-copy", argv[1]);
        uint64_t cv = 0;
        CHECK(acorn_checkpoint(d, copy, &cv) == ACORN_OK && cv == 3);
        CHECK(acorn_checkpoint(d, copy, &cv) != ACORN_OK); /* not empty any more */
        AcornTree *cp = NULL;
        CHECK(acorn_open(copy, &cp) == ACORN_OK);
        CHECK(acorn_crack(cp, S("later"), buf, sizeof buf, &len) == ACORN_OK);
        CHECK(acorn_close(cp) == ACORN_OK);
        CHECK(acorn_checkpoint(r, NULL, &cv) == ACORN_ERR_NULL);
        CHECK(acorn_close(r) == ACORN_OK);
        CHECK(acorn_close(d) == ACORN_OK);
    }

    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all C API checks passed\n");
    return 0;
}
