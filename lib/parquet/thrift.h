/* thrift.h - a decoder for the Thrift compact protocol, the encoding of every
 * Parquet metadata structure (footer, page headers).
 *
 * Spec: apache/thrift doc/specs/thrift-compact-protocol.md.  A struct is a
 * sequence of fields, each introduced by a header byte `ddddtttt`: dddd is
 * the delta from the previous field id (0 = a zigzag varint i16 id follows),
 * tttt the type; type 0 ends the struct.  Integers are zigzag ULEB128
 * varints, binaries are a ULEB128 length + bytes, lists a `sssstttt` header.
 *
 * The decoder reads from a bounded buffer and never trusts a length: any
 * read past the end, a varint longer than 10 bytes, a list longer than the
 * bytes left or nesting deeper than 64 levels stops the program with
 *     prog: NAME: corrupt metadata (what)
 * where NAME is the file being read.
 */
#ifndef TFS_THRIFT_H
#define TFS_THRIFT_H

#include <stddef.h>
#include <stdint.h>

/* Compact protocol type codes (in field headers and list headers). */
enum {
    TT_STOP = 0, TT_TRUE = 1, TT_FALSE = 2, TT_I8 = 3, TT_I16 = 4, TT_I32 = 5,
    TT_I64 = 6, TT_DOUBLE = 7, TT_BINARY = 8, TT_LIST = 9, TT_SET = 10,
    TT_MAP = 11, TT_STRUCT = 12, TT_UUID = 13
};

struct thrift {
    const uint8_t *p, *end;     /* unread bytes */
    const char *name;           /* for messages: the file */
    int depth;                  /* struct nesting, bounded */
};

void thrift_init(struct thrift *t, const void *buf, size_t len, const char *name);
_Noreturn void thrift_corrupt(const struct thrift *t, const char *what);

/* Next field of the current struct: returns 0 at its end (TT_STOP), else 1
 * with *id and *type set.  *last is the previous field id of this struct,
 * starting at 0 (keep one per struct level). */
int thrift_field(struct thrift *t, int *last, int *id, int *type);

uint64_t thrift_uleb(struct thrift *t);         /* raw ULEB128 varint */
int64_t  thrift_int(struct thrift *t, int type);/* an i8/i16/i32/i64 field value */
int32_t  thrift_i32(struct thrift *t);          /* zigzag varint, range-checked */
int64_t  thrift_i64(struct thrift *t);
int      thrift_bool(struct thrift *t, int type);   /* a bool field (from its type) */
double   thrift_double(struct thrift *t);
/* A binary/string: pointer into the buffer and length (not NUL-terminated). */
const uint8_t *thrift_binary(struct thrift *t, size_t *len);
/* A list or set header: returns the element count, *elem = element type. */
size_t   thrift_list(struct thrift *t, int *elem);
/* Skip a value of this type (any nesting: structs, lists, maps). */
void     thrift_skip(struct thrift *t, int type);
/* Struct nesting bookkeeping for callers that recurse: enter before reading
 * a nested struct's fields, leave after its TT_STOP. */
void     thrift_enter(struct thrift *t);
void     thrift_leave(struct thrift *t);

#endif
