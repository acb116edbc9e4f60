/* decoders.c - the value encodings of Parquet data pages (Encodings.md)
 * and their definition levels (see pq_internal.h for the other parts).
 *
 * Sections: bit-level decoders (RLE/bit-packed hybrid, DELTA_BINARY_PACKED)
 * -> PLAIN and dictionary pages -> one step per encoding of a data page ->
 * the data page (levels, then values).
 */
#include "parquet/pq_internal.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>

/* ======================================================================
 * Bit-level decoders
 * ====================================================================== */

/* Value i of a little-endian bit-packed run of `bw`-bit values starting at
 * p, where bytes [p, end) are available (reads past end are zero). */
static inline uint64_t unpack(const uint8_t *p, const uint8_t *end, int64_t i, int bw)
{
    uint64_t bit = (uint64_t)i * (uint64_t)bw;
    const uint8_t *q = p + (bit >> 3);
    int shift = (int)(bit & 7);
    uint64_t lo;
    if (end - q >= 8) lo = rd64(q);
    else { lo = 0; for (int k = 0; k < end - q; k++) lo |= (uint64_t)q[k] << (8 * k); }
    uint64_t v = lo >> shift;
    if (shift + bw > 64) {  /* the value spills into a ninth byte */
        uint64_t hi = q + 8 < end ? q[8] : 0;
        v |= hi << (64 - shift);
    }
    return bw == 64 ? v : v & (((uint64_t)1 << bw) - 1);
}

static uint64_t uleb(const uint8_t **pp, const uint8_t *end, int *ok)
{
    uint64_t v = 0;
    const uint8_t *p = *pp;
    for (int shift = 0; shift < 70; shift += 7) {
        if (p >= end) { *ok = 0; return 0; }
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) { *pp = p; return v; }
    }
    *ok = 0;
    return 0;
}

/* The RLE / bit-packed hybrid (Encodings.md): a sequence of runs, each
 * introduced by a ULEB128 header h:
 *   h & 1 == 1: (h >> 1) groups of 8 values, bit-packed LSB first, bw bits each
 *   h & 1 == 0: one value in ceil(bw/8) bytes, repeated (h >> 1) times
 * Example, bw = 1: 03 A5 = one bit-packed group 1,0,1,0,0,1,0,1;
 *                  10 01 = 8 repeats of 1.
 * Decodes n values into out; returns the end of what was read, or NULL if
 * the data ends early. */
const uint8_t *pq_rle_hybrid(const uint8_t *p, const uint8_t *end, int bw, uint32_t *out, int64_t n)
{
    int64_t got = 0;
    int ok = 1;
    size_t vbytes = (size_t)(bw + 7) / 8;
    while (got < n) {
        uint64_t h = uleb(&p, end, &ok);
        if (!ok) return NULL;
        if (h & 1) {
            uint64_t count = (h >> 1) * 8;
            int64_t take = (uint64_t)(n - got) < count ? n - got : (int64_t)count;
            size_t need = (size_t)(((uint64_t)take * (uint64_t)bw + 7) / 8);
            size_t run = (size_t)((h >> 1) * (uint64_t)bw);    /* bytes of the whole run */
            if ((size_t)(end - p) < need) return NULL;
            if (bw == 0) memset(out + got, 0, (size_t)take * sizeof *out);
            else for (int64_t i = 0; i < take; i++) out[got + i] = (uint32_t)unpack(p, end, i, bw);
            got += take;
            p += run <= (size_t)(end - p) ? run : (size_t)(end - p);
        } else {
            uint64_t count = h >> 1;
            if ((size_t)(end - p) < vbytes) return NULL;
            uint32_t v = 0;
            for (size_t k = 0; k < vbytes; k++) v |= (uint32_t)p[k] << (8 * k);
            p += vbytes;
            int64_t take = (uint64_t)(n - got) < count ? n - got : (int64_t)count;
            for (int64_t i = 0; i < take; i++) out[got + i] = v;
            got += take;
        }
    }
    return p;
}

/* DELTA_BINARY_PACKED (Encodings.md): header
 *   <block size> <miniblocks per block> <total count> <first value (zigzag)>
 * then blocks of <min delta (zigzag)> <one bit width byte per miniblock>
 * <miniblocks of bit-packed (delta - min delta)>.  Each value is the
 * previous one plus min delta plus its packed number, in wrapping 64-bit
 * arithmetic.  Example: 7 5 3 1 2 3 4 5 -> deltas -2 -2 -2 1 1 1 1,
 * min delta -2, packed 0 0 0 3 3 3 3 with bit width 2.
 * Decodes the header's total count of values, which must be <= max, into
 * out (NULL: only count); *total = that count.  Returns the end of the
 * encoded data or NULL if it is corrupt. */
const uint8_t *pq_delta_binary(const uint8_t *p, const uint8_t *end, int64_t *out, int64_t max, int64_t *total)
{
    int ok = 1;
    uint64_t block = uleb(&p, end, &ok), nmini = uleb(&p, end, &ok), count = uleb(&p, end, &ok);
    uint64_t zz = uleb(&p, end, &ok);
    if (!ok || block == 0 || block % 128 != 0 || nmini == 0 || block % nmini != 0 ||
        (block / nmini) % 32 != 0 || block > (1u << 20) || count > (uint64_t)max)
        return NULL;
    uint64_t per_mini = block / nmini;
    *total = (int64_t)count;
    uint64_t v = (zz >> 1) ^ -(zz & 1);
    if (count == 0) return p;
    if (out) out[0] = (int64_t)v;
    uint64_t done = 1;
    while (done < count) {
        uint64_t mzz = uleb(&p, end, &ok);
        if (!ok || (uint64_t)(end - p) < nmini) return NULL;
        uint64_t min_delta = (mzz >> 1) ^ -(mzz & 1);
        const uint8_t *widths = p;
        p += nmini;
        for (uint64_t m = 0; m < nmini && done < count; m++) {
            int bw = widths[m];
            if (bw > 64) return NULL;
            size_t bytes = (size_t)(per_mini * (uint64_t)bw / 8);
            uint64_t take = count - done < per_mini ? count - done : per_mini;
            /* the last miniblock may be cut short by some writers: require
             * only the bytes holding the values we take */
            size_t need = (size_t)((take * (uint64_t)bw + 7) / 8);
            if ((size_t)(end - p) < need) return NULL;
            for (uint64_t i = 0; i < take; i++) {
                v += min_delta + (bw ? unpack(p, end, (int64_t)i, bw) : 0);
                if (out) out[done + i] = (int64_t)v;
            }
            done += take;
            p += bytes <= (size_t)(end - p) ? bytes : (size_t)(end - p);
        }
    }
    return p;
}

/* ======================================================================
 * PLAIN values and the dictionary page
 * ====================================================================== */

/* PLAIN values: fixed-size types are stored back to back (BOOLEAN: one bit
 * each, LSB first); BYTE_ARRAY is u32 LE length + bytes per value.  Appends
 * n values to (fixed, var) at index `at`. */
static void plain_values(struct colvec *c, const uint8_t *p, const uint8_t *end, int64_t n,
                         uint8_t *fixed, struct bytes *var, int64_t at)
{
    size_t avail = (size_t)(end - p);
    if (c->f->type == PQ_BOOLEAN) {
        if ((uint64_t)avail * 8 < (uint64_t)n) pq_col_die(c, "page too short for its BOOLEAN values");
        for (int64_t i = 0; i < n; i++) fixed[at + i] = (p[i >> 3] >> (i & 7)) & 1;
    } else if (c->width) {
        if ((uint64_t)avail / (uint64_t)c->width < (uint64_t)n) pq_col_die(c, "page too short for its values");
        memcpy(fixed + at * c->width, p, (size_t)n * (size_t)c->width);
    } else {
        for (int64_t i = 0; i < n; i++) {
            if (end - p < 4) pq_col_die(c, "page too short for its BYTE_ARRAY values");
            uint32_t len = rd32(p);
            p += 4;
            if ((size_t)(end - p) < len) pq_col_die(c, "BYTE_ARRAY value runs past its page");
            var[at + i].p = p;
            var[at + i].len = len;
            p += len;
        }
    }
}

void pq_dict_page(struct colvec *c, const uint8_t *p, size_t n, int64_t count, int encoding)
{
    if (c->have_dict) pq_col_die(c, "a second dictionary page");
    if (encoding != ENC_PLAIN && encoding != ENC_PLAIN_DICT) pq_col_die(c, "dictionary page encoding %d", encoding);
    /* PLAIN values take a bit (BOOLEAN), their width, or at least the 4
     * bytes of a length (BYTE_ARRAY): a lying count is caught before it
     * allocates */
    uint64_t most = c->f->type == PQ_BOOLEAN ? (uint64_t)n * 8 : c->width ? n / (size_t)c->width : n / 4;
    if (count < 0 || (uint64_t)count > most) pq_col_die(c, "dictionary page claims %lld values in %zu bytes", (long long)count, n);
    c->ndict = count;
    pq_col_charge(c, c->width ? count * c->width + 1 : (count + 1) * (int64_t)sizeof *c->dict_var, "dictionary");
    if (c->width) c->dict_fixed = xmalloc((size_t)count * (size_t)c->width + 1);
    else c->dict_var = xmalloc(((size_t)count + 1) * sizeof *c->dict_var);
    plain_values(c, p, p + n, count, c->dict_fixed, c->dict_var, 0);
    c->have_dict = 1;
}

/* ======================================================================
 * The encodings of a data page: each decodes n present values from
 * [p, end) into the column at index `at`
 * ====================================================================== */

/* Room for n indices in the column's scratch. */
static void idx_room(struct colvec *c, int64_t n)
{
    if (n <= c->idx_cap) return;
    pq_col_charge(c, (n - c->idx_cap) * (int64_t)sizeof *c->idx, "indices and levels");
    c->idx_cap = n;
    c->idx = xrealloc(c->idx, (size_t)n * sizeof *c->idx);
}

/* PLAIN_DICTIONARY / RLE_DICTIONARY: a bit width byte, then the indices
 * into the dictionary page in the RLE / bit-packed hybrid. */
static void dict_values(struct colvec *c, const uint8_t *p, const uint8_t *end, int64_t n, int64_t at)
{
    if (!c->have_dict) pq_col_die(c, "dictionary-encoded page without a dictionary");
    if (end - p < 1) pq_col_die(c, "dictionary page without a bit width");
    int bw = *p++;
    if (bw > 32) pq_col_die(c, "dictionary index bit width %d", bw);
    idx_room(c, n);
    if (n && !pq_rle_hybrid(p, end, bw, c->idx, n)) pq_col_die(c, "dictionary indices run past their page");
    for (int64_t i = 0; i < n; i++) {
        uint32_t k = c->idx[i];
        if (k >= (uint64_t)c->ndict) pq_col_die(c, "dictionary index %u out of range (%lld entries)", k, (long long)c->ndict);
        if (c->width) memcpy(c->fixed + (at + i) * c->width, c->dict_fixed + (size_t)k * (size_t)c->width, (size_t)c->width);
        else c->var[at + i] = c->dict_var[k];
    }
}

/* RLE, BOOLEAN only: u32 LE length, then the hybrid with bit width 1. */
static void rle_booleans(struct colvec *c, const uint8_t *p, const uint8_t *end, int64_t n, int64_t at)
{
    if (c->f->type != PQ_BOOLEAN) pq_col_die(c, "RLE encoding on a non-BOOLEAN column");
    if (end - p < 4) pq_col_die(c, "RLE page too short");
    uint32_t len = rd32(p);
    p += 4;
    if ((size_t)(end - p) < len) pq_col_die(c, "RLE data runs past its page");
    idx_room(c, n);
    if (n && !pq_rle_hybrid(p, p + len, 1, c->idx, n)) pq_col_die(c, "RLE booleans run past their data");
    for (int64_t i = 0; i < n; i++) c->fixed[at + i] = (uint8_t)c->idx[i];
}

/* DELTA_BINARY_PACKED integers, INT32 kept to their low 32 bits. */
static void delta_integers(struct colvec *c, const uint8_t *p, const uint8_t *end, int64_t n, int64_t at)
{
    if (c->f->type != PQ_INT32 && c->f->type != PQ_INT64) pq_col_die(c, "DELTA_BINARY_PACKED on a non-integer column");
    int64_t bytes = (n + 1) * (int64_t)sizeof(int64_t), total;
    pq_charge(c->pq, bytes, "DELTA_BINARY_PACKED values");
    int64_t *tmp = xmalloc((size_t)bytes);
    if (!pq_delta_binary(p, end, tmp, n, &total) || total != n) { free(tmp); pq_col_die(c, "corrupt DELTA_BINARY_PACKED data"); }
    for (int64_t i = 0; i < n; i++) {
        if (c->width == 4) { int32_t v = (int32_t)(uint32_t)tmp[i]; memcpy(c->fixed + (at + i) * 4, &v, 4); }
        else memcpy(c->fixed + (at + i) * 8, &tmp[i], 8);
    }
    free(tmp);
    pq_release(c->pq, bytes);
}

/* The lengths of a DELTA_LENGTH_BYTE_ARRAY or DELTA_BYTE_ARRAY page. */
struct delta_lens {
    int64_t *prefix;        /* (n) bytes shared with the previous value; NULL for DELTA_LENGTH */
    int64_t *len;           /* (n) suffix lengths */
    uint64_t rebuilt;       /* bytes of the rebuilt values (DELTA_BYTE_ARRAY) */
    int64_t charged;        /* of the decode budget, for the two arrays */
};

_Noreturn static void delta_lens_die(struct colvec *c, struct delta_lens *d, const char *what)
{
    free(d->prefix); free(d->len);
    pq_release(c->pq, d->charged);
    pq_col_die(c, "%s", what);
}

/* Read the (prefix and) suffix lengths of n values and check them against
 * the page; returns where the suffix bytes start. */
static const uint8_t *delta_lengths(struct colvec *c, const uint8_t *p, const uint8_t *end, int64_t n,
                                    int with_prefix, struct delta_lens *d)
{
    int64_t total;
    d->prefix = NULL;
    /* the prefix and length arrays live while the page is decoded */
    pq_charge(c->pq, 2 * (n + 1) * (int64_t)sizeof(int64_t), "DELTA byte-array lengths");
    d->charged = 2 * (n + 1) * (int64_t)sizeof(int64_t);
    d->len = xmalloc(((size_t)n + 1) * sizeof *d->len);
    d->rebuilt = 0;
    if (with_prefix) {
        /* prefix lengths, then DELTA_LENGTH_BYTE_ARRAY suffixes; value i =
         * first prefix[i] bytes of value i-1, then suffix i.
         * Example: "apple", "apply", "ape" -> prefixes 0 4 2, suffixes "apple" "y" "e" */
        d->prefix = xmalloc(((size_t)n + 1) * sizeof *d->prefix);
        p = pq_delta_binary(p, end, d->prefix, n, &total);
        if (!p || total != n) delta_lens_die(c, d, "corrupt DELTA_BYTE_ARRAY prefix lengths");
    }
    p = pq_delta_binary(p, end, d->len, n, &total);
    if (!p || total != n) delta_lens_die(c, d, "corrupt DELTA_LENGTH_BYTE_ARRAY lengths");
    /* suffixes: lengths, then all bytes back to back */
    uint64_t sum = 0, prev = 0;
    for (int64_t i = 0; i < n; i++) {
        if (d->len[i] < 0 || d->len[i] > UINT32_MAX) delta_lens_die(c, d, "negative byte-array length");
        sum += (uint64_t)d->len[i];
        if (d->prefix) {
            if (d->prefix[i] < 0 || (uint64_t)d->prefix[i] > prev)
                delta_lens_die(c, d, "DELTA_BYTE_ARRAY prefix longer than the previous value");
            prev = (uint64_t)d->prefix[i] + (uint64_t)d->len[i];
            d->rebuilt += prev;
            if (d->rebuilt > MAX_STRING_BYTES) delta_lens_die(c, d, "DELTA_BYTE_ARRAY values too large");
        }
    }
    if (sum > (uint64_t)(end - p)) delta_lens_die(c, d, "byte-array data runs past its page");
    return p;
}

/* DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY (with_prefix): values that
 * share a prefix with the one before are rebuilt into a buffer of the row
 * group; the others point into the page. */
static void delta_byte_arrays(struct colvec *c, const uint8_t *p, const uint8_t *end, int64_t n, int64_t at,
                              int with_prefix)
{
    if (c->width && c->f->type != PQ_FIXED) pq_col_die(c, "a DELTA byte-array encoding on a numeric column");
    struct delta_lens d;
    p = delta_lengths(c, p, end, n, with_prefix, &d);
    const int64_t *prefix = d.prefix, *len = d.len;
    uint8_t *out = prefix ? pq_keep(c, (size_t)d.rebuilt) : NULL;
    const uint8_t *prev_p = NULL;     /* the previous value, for the next prefix */
    size_t o = 0;
    for (int64_t i = 0; i < n; i++) {
        struct bytes b;
        if (prefix) {
            uint8_t *dst = out + o;
            if (prefix[i]) memcpy(dst, prev_p, (size_t)prefix[i]);
            memcpy(dst + prefix[i], p, (size_t)len[i]);
            b.p = dst; b.len = (uint32_t)(prefix[i] + len[i]);
            o += b.len;
            prev_p = dst;
        } else { b.p = p; b.len = (uint32_t)len[i]; }
        p += len[i];
        if (!c->width) c->var[at + i] = b;
        else if (b.len != (uint32_t)c->width) delta_lens_die(c, &d, "value of the wrong fixed length");
        else memcpy(c->fixed + (at + i) * c->width, b.p, b.len);
    }
    free(d.prefix); free(d.len);
    pq_release(c->pq, d.charged);
}

/* BYTE_STREAM_SPLIT: byte k of value i is at k*n + i, so the bytes of
 * equal significance are grouped, which compresses better for floating
 * point. */
static void stream_split_values(struct colvec *c, const uint8_t *p, const uint8_t *end, int64_t n, int64_t at)
{
    if (!c->width || c->f->type == PQ_BOOLEAN) pq_col_die(c, "BYTE_STREAM_SPLIT on a variable-length column");
    if ((uint64_t)(end - p) / (uint64_t)c->width < (uint64_t)n) pq_col_die(c, "BYTE_STREAM_SPLIT page too short");
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < c->width; k++) c->fixed[(at + i) * c->width + k] = p[(int64_t)k * n + i];
}

/* Decode `n` present values of one data page from [p, end). */
static void page_values(struct colvec *c, const uint8_t *p, const uint8_t *end, int64_t n, int encoding)
{
    /* PLAIN and BYTE_STREAM_SPLIT values are all in the page: a count the
     * page cannot hold is refused before room is made for it */
    uint64_t avail = (uint64_t)(end - p);
    if ((encoding == ENC_PLAIN || encoding == ENC_BYTE_STREAM_SPLIT) &&
        (c->f->type == PQ_BOOLEAN ? avail * 8 : c->width ? avail / (uint64_t)c->width : avail / 4) < (uint64_t)n)
        pq_col_die(c, "page too short for its %lld values", (long long)n);
    pq_grow(c, n);
    int64_t at = c->nv;
    switch (encoding) {
    case ENC_PLAIN: plain_values(c, p, end, n, c->fixed, c->var, at); break;
    case ENC_PLAIN_DICT: case ENC_RLE_DICT: dict_values(c, p, end, n, at); break;
    case ENC_RLE: rle_booleans(c, p, end, n, at); break;
    case ENC_DELTA_BINARY: delta_integers(c, p, end, n, at); break;
    case ENC_DELTA_LENGTH: delta_byte_arrays(c, p, end, n, at, 0); break;
    case ENC_DELTA_BYTE_ARRAY: delta_byte_arrays(c, p, end, n, at, 1); break;
    case ENC_BYTE_STREAM_SPLIT: stream_split_values(c, p, end, n, at); break;
    default: pq_col_die(c, "encoding %d is not supported", encoding);
    }
    c->nv += n;
}

/* ======================================================================
 * A data page
 * ====================================================================== */

/* Definition levels of `nvalues` rows, then their present values. */
void pq_data_page(struct colvec *c, const uint8_t *lev, size_t lev_len, int v1,
                      const uint8_t *val, const uint8_t *val_end, int64_t nvalues, int encoding, int def_encoding)
{
    if (nvalues < 0 || nvalues > c->rows - c->nlev)
        pq_col_die(c, "a page holds more values (%lld) than its row group has rows left (%lld)",
                (long long)nvalues, (long long)(c->rows - c->nlev));
    int64_t present = nvalues;
    if (c->f->optional) {
        /* v1: u32 LE length + hybrid; v2: the hybrid alone, length from the header */
        const uint8_t *p = lev, *end = lev + lev_len;
        if (v1) {
            if (def_encoding != ENC_RLE) pq_col_die(c, "definition level encoding %d is not supported", def_encoding);
            if (end - p < 4) pq_col_die(c, "page too short for its definition levels");
            uint32_t len = rd32(p);
            p += 4;
            if ((size_t)(end - p) < len) pq_col_die(c, "definition levels run past their page");
            end = p + len;
            val = end;
        }
        idx_room(c, nvalues);
        if (nvalues && !pq_rle_hybrid(p, end, 1, c->idx, nvalues)) pq_col_die(c, "definition levels run past their data");
        int64_t need = c->nlev - c->base + nvalues;
        if (need > c->def_cap) {
            pq_col_charge(c, need - c->def_cap, "definition levels");
            c->def = xrealloc(c->def, (size_t)need);
            c->def_cap = need;
        }
        present = 0;
        for (int64_t i = 0; i < nvalues; i++) {
            if (c->idx[i] > 1) pq_col_die(c, "definition level %u in a flat column", c->idx[i]);
            c->def[c->nlev - c->base + i] = (uint8_t)c->idx[i];
            present += c->idx[i];
        }
    }
    c->nlev += nvalues;
    if (present) page_values(c, val, val_end, present, encoding);
}
