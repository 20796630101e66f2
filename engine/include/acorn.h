/* acorn.h — C interface to the acorn embedded document store.
 *
 * Build the library:  cargo rustc -p acorn --release --features ffi --crate-type staticlib
 *                     (or --crate-type cdylib), then link with -lacorn -lpthread -ldl -lm.
 *
 * Every function returns an int status: ACORN_OK (0), ACORN_NOT_FOUND (1), or a negative
 * ACORN_ERR_* code, with a message from acorn_last_error() on the same thread. Keys are
 * UTF-8 byte strings with explicit lengths; a length over 16 MiB (the largest value, e.g.
 * (size_t)-1 by mistake) is ACORN_ERR_TOO_LARGE before any byte is read. Handles are freed by their own function; a
 * double free is detected and returns ACORN_ERR_INVALID_HANDLE. Freeing a handle clears its
 * kind tag, so a call with a freed handle returns ACORN_ERR_INVALID_HANDLE as long as its
 * memory has not been handed out again; it is still a bug (undefined behaviour) to do so.
 * ACORN_ERR_CORRUPT covers damaged or missing data files and directories written in an
 * on-disk format this build does not read; the message says which file and what to do.
 *
 * Kept in sync with engine/src/ffi/ by engine/tests/ffi_c.rs, which also compiles and
 * runs engine/tests/c/acorn_test.c against this header.
 */
#ifndef ACORN_H
#define ACORN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACORN_OK 0
#define ACORN_NOT_FOUND 1
#define ACORN_ERR_NULL (-1)
#define ACORN_ERR_UTF8 (-2)
#define ACORN_ERR_BUFFER_TOO_SMALL (-3)
#define ACORN_ERR_INVALID_HANDLE (-4)
#define ACORN_ERR_INVALID_KEY (-5)
#define ACORN_ERR_TOO_LARGE (-6)
#define ACORN_ERR_IO (-7)
#define ACORN_ERR_CORRUPT (-8)
#define ACORN_ERR_LOCKED (-9)
#define ACORN_ERR_CONFLICT (-10)
#define ACORN_ERR_PANIC (-11)
#define ACORN_ERR_OTHER (-12)
#define ACORN_ERR_COMPACTED (-13) /* the change feed no longer holds the version asked for */
#define ACORN_ERR_READ_ONLY (-14) /* a write through a tree opened read-only */

/* Kinds of change (acorn_changes_next). */
#define ACORN_CHANGE_STASHED 1
#define ACORN_CHANGE_TOSSED 2
#define ACORN_CHANGE_EXPIRED 3

typedef struct AcornTree AcornTree;
typedef struct AcornBatch AcornBatch;
typedef struct AcornQuery AcornQuery;
typedef struct AcornChanges AcornChanges;

/* The message of the last failed call on this thread ("" if none has failed): a call that
 * succeeds leaves it as it was, so read it after a negative status only. Valid until the
 * next acorn call. */
const char *acorn_last_error(void);

int acorn_open_memory(AcornTree **out);
/* A durable tree in directory `path` (NUL-terminated UTF-8), fsync on every commit. */
int acorn_open(const char *path, AcornTree **out);
int acorn_close(AcornTree *tree);

int acorn_stash(const AcornTree *tree, const uint8_t *key, size_t key_len,
                const uint8_t *value, size_t value_len, uint64_t *version /* nullable */);
/* Like acorn_stash, with a time to live of ttl_ms milliseconds: invisible to every read once
 * it runs out (0: at once; UINT64_MAX: never in practice), removed by a purge or compaction;
 * the change feed reports its removal as ACORN_CHANGE_EXPIRED. */
int acorn_stash_with_ttl(const AcornTree *tree, const uint8_t *key, size_t key_len,
                         const uint8_t *value, size_t value_len, uint64_t ttl_ms,
                         uint64_t *version /* nullable */);
/* Copies the value into buf. ACORN_NOT_FOUND when absent; ACORN_ERR_BUFFER_TOO_SMALL with
 * the needed length in *value_len when it does not fit. */
int acorn_crack(const AcornTree *tree, const uint8_t *key, size_t key_len,
                uint8_t *buf, size_t buf_len, size_t *value_len);
/* The value in a new buffer; release it with acorn_free_value(value, value_len). */
int acorn_crack_alloc(const AcornTree *tree, const uint8_t *key, size_t key_len,
                      uint8_t **value, size_t *value_len);
int acorn_free_value(uint8_t *value, size_t value_len);
int acorn_toss(const AcornTree *tree, const uint8_t *key, size_t key_len, int *existed /* nullable */);

int acorn_batch_new(const AcornTree *tree, AcornBatch **out);
/* A rejected stash or toss (bad key or value, null pointer) returns its error now, and the
   batch's commit then fails whole with the same status. */
int acorn_batch_stash(AcornBatch *batch, const uint8_t *key, size_t key_len,
                      const uint8_t *value, size_t value_len);
int acorn_batch_toss(AcornBatch *batch, const uint8_t *key, size_t key_len);
/* All or nothing: nothing is written when any operation was rejected. The handle must
   still be freed. */
int acorn_batch_commit(AcornBatch *batch, uint64_t *version /* nullable */);
int acorn_batch_free(AcornBatch *batch);

/* Keys starting with prefix (may be empty), skipping `skip`, at most `take` (0 = all). */
int acorn_query_new(const AcornTree *tree, const uint8_t *prefix, size_t prefix_len,
                    size_t skip, size_t take, AcornQuery **out);
/* At most `limit` nuts in key order from `start` (inclusive); read with acorn_query_next. */
int acorn_scan_new(const AcornTree *tree, const uint8_t *start, size_t start_len, size_t limit,
                   AcornQuery **out);
/* Next result; pointers valid until the next call on this query or its free.
 * ACORN_NOT_FOUND after the last. */
int acorn_query_next(AcornQuery *query, const uint8_t **key, size_t *key_len,
                     const uint8_t **value, size_t *value_len);
int acorn_query_free(AcornQuery *query);

/* The durable tree in directory `path` read-only, beside the process that writes it (it
 * takes no lock and changes nothing); writes through it return ACORN_ERR_READ_ONLY.
 * Close with acorn_close. */
int acorn_open_read_only(const char *path, AcornTree **out);
/* Brings a read-only tree up to what its writer wrote since; *version = its version now. */
int acorn_refresh(const AcornTree *tree, uint64_t *version /* nullable */);
/* Copies the tree into directory `path` (new or empty) while writers go on; the copy opens
 * as a tree at exactly *version. */
int acorn_checkpoint(const AcornTree *tree, const char *path, uint64_t *version /* nullable */);

/* The changes committed after version `since`, in commit order, up to *until (ask from
 * it next time). ACORN_ERR_COMPACTED when the feed no longer reaches back to `since`. */
int acorn_changes_new(const AcornTree *tree, uint64_t since, AcornChanges **out,
                      uint64_t *until /* nullable */);
/* Next change: kind (ACORN_CHANGE_*), version, key and, for a stash, the value (NULL and 0
 * for a removal); pointers valid until the handle is freed. ACORN_NOT_FOUND after the last. */
int acorn_changes_next(AcornChanges *changes, int *kind, uint64_t *version,
                       const uint8_t **key, size_t *key_len,
                       const uint8_t **value, size_t *value_len);
int acorn_changes_free(AcornChanges *changes);

#ifdef __cplusplus
}
#endif

#endif /* ACORN_H */
