/* tokset.h - several token-stream files read as one stream (shards).
 *
 * A dataset of billions of tokens is kept as numbered shards
 * (bpe-encode --shard-size, or llm.c's *_train_NNNNNN.bin).  A token set
 * is those files, in order, seen as one stream: token i of the set is
 * token i - start[k] of the file k with start[k] <= i < start[k + 1].
 *
 *   shard 0: ids [0, n0)   shard 1: ids [n0, n0 + n1)   ...
 *
 * The set is a struct tokr (tokstream.h), so the readers of one stream
 * (training, evaluation) read a set unchanged: tokr_read goes on from one
 * file to the next, and tokr_get copies a window that may straddle a
 * boundary from both files.  Training on shards is therefore the same,
 * token for token, as training on their concatenation.
 *
 * Every file must agree with the first on the vocabulary size and the
 * tokenizer fingerprint; an error names the file that does not.
 *
 * Bounded resources, whatever the number of files: opening the set reads
 * each file's 1024-byte header (one file descriptor at a time, closed at
 * once).  When every file is plain (uncompressed, regular), the set is
 * random-access ("mapped"): a file is memory-mapped the first time a token
 * of it is asked for (its ids checked then) and its descriptor closed.
 * Otherwise the set is read sequentially, one file open at a time.
 */
#ifndef TFS_TOKSET_H
#define TFS_TOKSET_H

#include "core/tokstream.h"

#include <stddef.h>

/* The files named by args: a file as is, a directory as its files (not
 * those starting with '.') in name order, a pattern with * ? or [ that is
 * not a file as its matches in name order (glob(3)).  "-" stands alone.
 * Returns a NULL-terminated array (free with tokset_free_names); dies with
 * a message naming the argument that yields nothing. */
char **tokset_expand(const char *const *args, size_t nargs, size_t *n);
void tokset_free_names(char **names);

/* Open args (see tokset_expand) as one stream.  One plain file or "-" is
 * tokr_open's stream itself; anything else is a set. */
struct tokr *tokr_open_set(const char *const *args, size_t nargs);

/* The number of files of r (1 for a single stream). */
size_t tokr_files(const struct tokr *r);

/* ---- writing shards ----
 * bpe-encode --shard-size: the stream cut every shard_size tokens into
 * whole streams PREFIX_000000.bin, PREFIX_000001.bin, ... (llm.c cuts its
 * shards the same way: at the token count, not at a document boundary, so
 * the shards read as a set are the unsharded stream, token for token).
 * Each shard is written atomically (temp + rename, tokstream.h); at close,
 * shards of a same-named earlier, longer run beyond the last one written
 * are removed, so that the directory holds this stream only.  shard_size
 * 0: one file at prefix itself, exactly tokw_open's. */
struct tokws;
struct tokws *tokws_open(const char *prefix, uint64_t shard_size, uint32_t vocab, uint64_t fingerprint,
                         int zstd_level, int force);
void tokws_put(struct tokws *w, const uint32_t *ids, size_t n);
/* Returns the number of files written. */
size_t tokws_close(struct tokws *w);
/* The name of shard k of prefix (free it). */
char *tokws_name(const char *prefix, size_t k);

/* Used by tokstream.c for a set (r->set != NULL). */
struct tokset;
void tokset_get(const struct tokr *r, uint64_t off, size_t n, uint32_t *out);
size_t tokset_read(struct tokr *r, uint32_t *out, size_t max);
void tokset_close(struct tokset *s);

#endif
