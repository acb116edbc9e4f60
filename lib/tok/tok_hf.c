/* tok_hf.c - Hugging Face tokenizer.json files holding a byte-level BPE
 * model (model.vocab, model.merges, added_tokens): read by tok_load
 * (tok_load.c) through tok_format_hf, written by tok_save_hf.  The other
 * formats are tok_bin.c and tok_tiktoken.c. */
#include "tok/tokenizer_impl.h"
#include "core/xio.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Byte-level BPE stores each token as a printable string: GPT-2's
 * bytes_to_unicode maps the 188 bytes that are printable Latin-1
 * ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) to themselves and the other 68, in
 * increasing order, to U+0100, U+0101, ...  (so ' ' is 'Ġ' U+0120). */
static void byte_map(uint32_t to_cp[256])
{
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        to_cp[b] = printable ? b : next++;
    }
}

/* Byte-level string (UTF-8) -> bytes; returns the length or -1. */
static long from_byte_level(const char *s, size_t n, const int *cp_to_byte, unsigned char *out)
{
    long k = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        if (c < 0x80) { cp = c; i += 1; }
        else if ((c & 0xE0) == 0xC0 && i + 1 < n) { cp = (uint32_t)(c & 0x1F) << 6 | (s[i + 1] & 0x3F); i += 2; }
        else return -1;
        if (cp >= 512 || cp_to_byte[cp] < 0) return -1;
        out[k++] = (unsigned char)cp_to_byte[cp];
    }
    return k;
}

/* The pattern of the pre-tokenizer; *prefix_space: ByteLevel's add_prefix_space. */
static const char *hf_pattern(json_t *pre, int *prefix_space, char *err, size_t errlen)
{
    if (!pre || json_is_null(pre)) { tok_errf(err, errlen, "no pre_tokenizer: not a byte-level BPE tokenizer.json"); return NULL; }
    const char *type = json_string_value(json_object_get(pre, "type"));
    if (type && strcmp(type, "ByteLevel") == 0) {
        *prefix_space = json_is_true(json_object_get(pre, "add_prefix_space"));
        json_t *ur = json_object_get(pre, "use_regex");
        if (!ur || json_is_true(ur)) return pretok_named("gpt2");
    }
    if (type && strcmp(type, "Sequence") == 0) {
        json_t *list = json_object_get(pre, "pretokenizers");
        json_t *split = json_array_get(list, 0), *bl = json_array_get(list, 1);
        const char *st = json_string_value(json_object_get(split, "type"));
        const char *bt = json_string_value(json_object_get(bl, "type"));
        const char *beh = json_string_value(json_object_get(split, "behavior"));
        const char *re = json_string_value(json_object_get(json_object_get(split, "pattern"), "Regex"));
        if (json_array_size(list) == 2 && st && strcmp(st, "Split") == 0 && bt && strcmp(bt, "ByteLevel") == 0 &&
            re && beh && strcmp(beh, "Isolated") == 0 && !json_is_true(json_object_get(split, "invert")) &&
            json_is_false(json_object_get(bl, "use_regex"))) {
            *prefix_space = json_is_true(json_object_get(bl, "add_prefix_space"));
            return re;
        }
    }
    tok_errf(err, errlen, "pre_tokenizer %s is not supported (tfs reads ByteLevel, a Sequence of "
             "Split(Regex, Isolated) and ByteLevel, and Metaspace)", type ? type : "(no type)");
    return NULL;
}

/* Append a rewrite to t. */
static void add_rewrite(struct tokenizer *t, int op, const char *a, const char *b)
{
    t->rw = xrealloc(t->rw, (size_t)(t->nrw + 1) * sizeof *t->rw);
    struct tok_rewrite *w = &t->rw[t->nrw++];
    w->op = op;
    w->a = xstrdup(a); w->al = strlen(a);
    w->b = xstrdup(b ? b : ""); w->bl = b ? strlen(b) : 0;
    if ((op == TOK_REPLACE && strcmp(a, " ") == 0) || op == TOK_META_ALWAYS || op == TOK_META_FIRST) {
        free(t->space_sym);             /* decoding turns it back into a space */
        t->space_sym = xstrdup(op == TOK_REPLACE ? w->b : w->a);
        t->space_sym_len = strlen(t->space_sym);
    }
}

/* A normalizer: Prepend, Replace of a string, NFC, NFKC, NFD, NFKD, or a
 * Sequence of them. */
static int hf_normalizer(struct tokenizer *t, json_t *n, char *err, size_t errlen)
{
    const char *type = json_string_value(json_object_get(n, "type"));
    if (type && strcmp(type, "Sequence") == 0) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(n, "normalizers"), i, v)
            if (hf_normalizer(t, v, err, errlen)) return -1;
        return 0;
    }
    const char *pre = json_string_value(json_object_get(n, "prepend"));
    const char *from = json_string_value(json_object_get(json_object_get(n, "pattern"), "String"));
    const char *to = json_string_value(json_object_get(n, "content"));
    if (type && strcmp(type, "Prepend") == 0 && pre && *pre) add_rewrite(t, TOK_PREPEND, pre, NULL);
    else if (type && strcmp(type, "Replace") == 0 && from && *from && to) add_rewrite(t, TOK_REPLACE, from, to);
    else if (type && strcmp(type, "NFC") == 0) add_rewrite(t, TOK_NFC, "", NULL);
    else if (type && strcmp(type, "NFKC") == 0) add_rewrite(t, TOK_NFKC, "", NULL);
    else if (type && strcmp(type, "NFD") == 0) add_rewrite(t, TOK_NFD, "", NULL);
    else if (type && strcmp(type, "NFKD") == 0) add_rewrite(t, TOK_NFKD, "", NULL);
    else
        return tok_errf(err, errlen, "normalizer %s%s is not supported (tfs reads Prepend, Replace of a string, "
                        "NFC, NFKC, NFD and NFKD)",
                        type ? type : "(no type)", type && strcmp(type, "Replace") == 0 ? " of a regex" : ""), -1;
    return 0;
}

/* Metaspace: every ' ' becomes the replacement (U+2581), which is put
 * before the text as prepend_scheme says, and (split) starts each piece. */
static int hf_metaspace(struct tokenizer *t, json_t *pre, char *err, size_t errlen)
{
    const char *rep = json_string_value(json_object_get(pre, "replacement"));
    const char *scheme = json_string_value(json_object_get(pre, "prepend_scheme"));
    json_t *aps = json_object_get(pre, "add_prefix_space"), *split = json_object_get(pre, "split");
    if (!rep || !*rep || strstr(rep, "\\E")) return tok_errf(err, errlen, "Metaspace: bad replacement"), -1;
    add_rewrite(t, TOK_REPLACE, " ", rep);
    if (scheme ? strcmp(scheme, "always") == 0 : !aps || json_is_true(aps)) add_rewrite(t, TOK_META_ALWAYS, rep, NULL);
    else if (scheme && strcmp(scheme, "first") == 0) add_rewrite(t, TOK_META_FIRST, rep, NULL);
    else if (scheme && strcmp(scheme, "never") != 0)
        return tok_errf(err, errlen, "Metaspace: prepend_scheme \"%s\" is not supported", scheme), -1;
    free(t->pattern);
    if (split && !json_is_true(split)) t->pattern = xstrdup("(?s).+");
    else {                              /* the replacement starts a piece: "a\u2581\u2581b" -> a, \u2581, \u2581b */
        size_t n = 3 * strlen(rep) + 32;
        t->pattern = xmalloc(n);
        snprintf(t->pattern, n, "\\Q%s\\E[^\\Q%s\\E]*|[^\\Q%s\\E]+", rep, rep, rep);
    }
    return 0;
}

/* How text is prepared: the normalizer, then the pre-tokenizer: ByteLevel
 * (byte-level BPE), Metaspace, or none (the whole text one piece; with a
 * normalizer, as HF's conversion of Llama 2 has); the last two make a
 * character-level BPE. */
static int hf_text_rules(struct tokenizer *t, json_t *root, char *err, size_t errlen)
{
    json_t *norm = json_object_get(root, "normalizer"), *pre = json_object_get(root, "pre_tokenizer");
    if (norm && !json_is_null(norm) && hf_normalizer(t, norm, err, errlen)) return -1;
    const char *type = json_string_value(json_object_get(pre, "type"));
    if ((!pre || json_is_null(pre)) && t->nrw) {
        t->char_level = 1;
        free(t->pattern);
        t->pattern = xstrdup("(?s).+");
        return 0;
    }
    if (type && strcmp(type, "Metaspace") == 0) {
        t->char_level = 1;
        return hf_metaspace(t, pre, err, errlen);
    }
    const char *pattern = hf_pattern(pre, &t->prefix_space, err, errlen);
    if (!pattern) return -1;
    free(t->pattern);
    t->pattern = xstrdup(pattern);
    return 0;
}

/* Added tokens, before model.vocab (they may be in it too): each keeps its
 * own "special" flag; lstrip/rstrip/normalized say how its text is matched. */
static int load_added(struct tokenizer *t, json_t *added, char *err, size_t errlen)
{
    size_t i;
    json_t *v;
    json_array_foreach(added, i, v) {
        json_t *c = json_object_get(v, "content");
        uint32_t id = (uint32_t)json_integer_value(json_object_get(v, "id"));
        if (t->len[id] != TOK_NONE) { tok_errf(err, errlen, "added_tokens: id %u given twice", id); return -1; }
        if (json_is_true(json_object_get(v, "single_word"))) {
            tok_errf(err, errlen, "added_tokens[%zu] (\"%s\"): single_word is not supported", i, json_string_value(c));
            return -1;
        }
        if (json_string_length(c) == 0) { tok_errf(err, errlen, "added_tokens[%zu]: empty content", i); return -1; }
        tok_set_token(t, id, json_string_value(c), json_string_length(c),
                      json_is_true(json_object_get(v, "special")) ? TOK_SPECIAL : TOK_ADDED);
        t->special_flags[t->nspecial - 1] = (unsigned char)((json_is_true(json_object_get(v, "lstrip")) ? TOK_LSTRIP : 0) |
                                                            (json_is_true(json_object_get(v, "rstrip")) ? TOK_RSTRIP : 0) |
                                                            (json_is_true(json_object_get(v, "normalized")) ? TOK_NORMALIZED : 0));
        if (strcmp(json_string_value(c), TOK_DEFAULT_EOT) == 0) t->eot = id;
        if (t->nrw && json_is_true(json_object_get(v, "normalized"))) {
            tok_errf(err, errlen, "added_tokens[%zu] (\"%s\"): a normalized added token with a normalizer or "
                     "Metaspace is not supported", i, json_string_value(c));
            return -1;
        }
    }
    return 0;
}

/* The id of an added token's text, or TOK_NONE. */
static uint32_t added_id(const struct tokenizer *t, const char *text)
{
    for (uint32_t i = 0; text && i < t->nspecial; i++) {
        uint32_t id = t->special_ids[i];
        if (t->len[id] == strlen(text) && memcmp(t->blob + t->off[id], text, t->len[id]) == 0) return id;
    }
    return TOK_NONE;
}

/* BOS and EOS: the special tokens a TemplateProcessing post-processor puts
 * before and after the text ($A) of a single sequence (also inside a
 * Sequence of processors, as Llama 3 has). */
static void template_bos_eos(struct tokenizer *t, json_t *pp)
{
    const char *type = json_string_value(json_object_get(pp, "type"));
    if (type && strcmp(type, "Sequence") == 0) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(pp, "processors"), i, v) template_bos_eos(t, v);
        return;
    }
    if (!type || strcmp(type, "TemplateProcessing") != 0) return;
    size_t i;
    json_t *v;
    int after = 0;
    json_array_foreach(json_object_get(pp, "single"), i, v) {
        if (json_object_get(v, "Sequence")) { after = 1; continue; }
        const char *name = json_string_value(json_object_get(json_object_get(v, "SpecialToken"), "id"));
        json_t *ids = json_object_get(json_object_get(json_object_get(pp, "special_tokens"), name), "ids");
        uint32_t id = json_is_integer(json_array_get(ids, 0)) ? (uint32_t)json_integer_value(json_array_get(ids, 0))
                                                              : added_id(t, name);
        if (id >= t->vocab) continue;
        if (!after && t->bos == TOK_NONE) t->bos = id;
        if (after) t->eos = id;
    }
}

/* Else tokenizer_config.json beside the file: "bos_token"/"eos_token", a
 * string or {"content": ...}. */
static void config_bos_eos(struct tokenizer *t, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
    char *cfg = xmalloc(dl + 32);
    memcpy(cfg, path, dl);
    strcpy(cfg + dl, "tokenizer_config.json");
    json_t *root = json_load_file(cfg, 0, NULL);
    free(cfg);
    if (!root) return;
    for (int k = 0; k < 2; k++) {
        json_t *v = json_object_get(root, k ? "eos_token" : "bos_token");
        const char *text = json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "content"));
        uint32_t id = added_id(t, text), *slot = k ? &t->eos : &t->bos;
        if (*slot == TOK_NONE) *slot = id;
    }
    json_decref(root);
}

/* The model: the BPE's own settings that tfs follows or refuses. */
static int hf_model(struct tokenizer *t, json_t *model, char *err, size_t errlen)
{
    t->merge_list = 1;
    t->whole_piece = json_is_true(json_object_get(model, "ignore_merges"));
    t->fuse_unk = json_is_true(json_object_get(model, "fuse_unk"));
    if (json_is_true(json_object_get(model, "byte_fallback")) && !t->char_level)
        return tok_errf(err, errlen, "model.byte_fallback with a ByteLevel pre-tokenizer is not supported"), -1;
    const char *cont = json_string_value(json_object_get(model, "continuing_subword_prefix"));
    const char *suf = json_string_value(json_object_get(model, "end_of_word_suffix"));
    if ((cont && *cont) || (suf && *suf))
        return tok_errf(err, errlen, "model.continuing_subword_prefix and end_of_word_suffix are not supported"), -1;
    return 0;
}

static int hf_vocab(struct tokenizer *t, json_t *vocab, struct bytemap *str2id, char *err, size_t errlen)
{
    uint32_t to_cp[256];
    int cp_to_byte[512];
    byte_map(to_cp);
    for (int c = 0; c < 512; c++) cp_to_byte[c] = -1;
    for (int b = 0; b < 256; b++) cp_to_byte[to_cp[b]] = b;
    bytemap_init(str2id, json_object_size(vocab));
    const char *key;
    json_t *v;
    unsigned char *buf = NULL;
    json_object_foreach(vocab, key, v) {
        uint32_t id = (uint32_t)json_integer_value(v);
        size_t kl = strlen(key);
        *bytemap_put(str2id, key, kl, NULL) = id;
        /* an added token also in the vocabulary: special ones stay out of
         * the merges; others are regular tokens that are matched by text */
        if (t->is_special[id] == TOK_ADDED) { t->is_special[id] = TOK_ADDED_VOCAB; continue; }
        if (t->is_special[id]) continue;
        if (t->len[id] != TOK_NONE) { free(buf); return tok_errf(err, errlen, "model.vocab: id %u given twice", id), -1; }
        unsigned b;
        char tail;
        if (t->char_level) {        /* the text itself; <0xXX> is a byte_fallback token */
            int byte = kl == 6 && sscanf(key, "<0x%2X%c", &b, &tail) == 2 && tail == '>';
            unsigned char c = (unsigned char)b;
            if (byte) t->fallback_id[c] = id;
            tok_set_token(t, id, byte ? (const char *)&c : key, byte ? 1 : kl, byte ? TOK_BYTE : TOK_REGULAR);
            continue;
        }
        buf = xrealloc(buf, kl + 1);
        long bl = from_byte_level(key, kl, cp_to_byte, buf);
        if (bl <= 0) {
            free(buf);
            return tok_errf(err, errlen, "model.vocab: \"%s\" is not a byte-level token", key), -1;
        }
        tok_set_token(t, id, buf, (size_t)bl, TOK_REGULAR);
    }
    free(buf);
    return 0;
}

static int hf_merges(struct tokenizer *t, json_t *merges, const struct bytemap *str2id, char *err, size_t errlen)
{
    size_t i;
    json_t *v;
    t->nmerges = (uint32_t)json_array_size(merges);
    t->merges = xmalloc((t->nmerges + 1) * sizeof *t->merges);
    json_array_foreach(merges, i, v) {
        const char *a, *b;
        size_t al, bl;
        if (json_is_string(v)) {        /* "left right" (older files) */
            a = json_string_value(v);
            const char *sp = strchr(a, ' ');
            if (!sp) return tok_errf(err, errlen, "model.merges[%zu]: expected \"LEFT RIGHT\"", i), -1;
            al = (size_t)(sp - a); b = sp + 1; bl = strlen(b);
        } else if (json_is_array(v) && json_array_size(v) == 2 && json_is_string(json_array_get(v, 0)) &&
                   json_is_string(json_array_get(v, 1))) {   /* ["left", "right"] */
            a = json_string_value(json_array_get(v, 0)); al = strlen(a);
            b = json_string_value(json_array_get(v, 1)); bl = strlen(b);
        } else return tok_errf(err, errlen, "model.merges[%zu]: expected a pair of tokens", i), -1;
        const uint64_t *l = bytemap_get(str2id, a, al), *r = bytemap_get(str2id, b, bl);
        if (!l || !r) return tok_errf(err, errlen, "model.merges[%zu]: token not in model.vocab", i), -1;
        t->merges[i][0] = (uint32_t)*l;
        t->merges[i][1] = (uint32_t)*r;
    }
    return 0;
}

/* The vocabulary size: the largest id + 1; ids must be sane and dense. */
static int hf_size(json_t *vocab, json_t *added, uint32_t *size, char *err, size_t errlen)
{
    uint64_t maxid = 0;
    const char *key;
    size_t i;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= TOK_MAX_VOCAB)
            return tok_errf(err, errlen, "model.vocab: bad id for \"%s\"", key), -1;
        if ((uint64_t)json_integer_value(v) > maxid) maxid = (uint64_t)json_integer_value(v);
    }
    json_array_foreach(added, i, v) {
        json_int_t id = json_integer_value(json_object_get(v, "id"));
        if (!json_is_string(json_object_get(v, "content")) || id < 0 || id >= TOK_MAX_VOCAB)
            return tok_errf(err, errlen, "added_tokens[%zu]: bad entry", i), -1;
        if ((uint64_t)id > maxid) maxid = (uint64_t)id;
    }
    if (maxid >= json_object_size(vocab) + json_array_size(added) + 65536)
        return tok_errf(err, errlen, "id %llu in a vocabulary of %zu tokens: ids are not dense", (unsigned long long)maxid,
                        json_object_size(vocab) + json_array_size(added)), -1;
    *size = (uint32_t)maxid + 1;
    return 0;
}

static struct tokenizer *load_hf(const char *path, const char *d, size_t n, const struct tok_load_opts *o,
                                 char *err, size_t errlen)
{
    (void)o;
    json_error_t je;
    json_t *root = json_loadb(d, n, 0, &je);
    if (!root) { tok_errf(err, errlen, "line %d: malformed JSON: %s", je.line, je.text); return NULL; }
    struct tokenizer *t = NULL;
    struct bytemap str2id = { 0 };
    json_t *model = json_object_get(root, "model");
    json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    json_t *added = json_object_get(root, "added_tokens");
    const char *mtype = json_string_value(json_object_get(model, "type"));
    if (!json_is_object(vocab) || !json_is_array(merges) || (mtype && strcmp(mtype, "BPE") != 0)) {
        tok_errf(err, errlen, "not a BPE tokenizer.json (model.vocab and model.merges required)");
        goto out;
    }
    uint32_t size;
    if (hf_size(vocab, added, &size, err, errlen)) goto out;
    t = tok_alloc(TOK_HF, size, "");
    if (hf_text_rules(t, root, err, errlen) || hf_model(t, model, err, errlen) || load_added(t, added, err, errlen) ||
        hf_vocab(t, vocab, &str2id, err, errlen) || hf_merges(t, merges, &str2id, err, errlen))
        goto out;
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    const uint64_t *u = unk ? bytemap_get(&str2id, unk, strlen(unk)) : NULL;
    t->unk = u ? (uint32_t)*u : added_id(t, unk);
    template_bos_eos(t, json_object_get(root, "post_processor"));
    config_bos_eos(t, path);
    if (tok_finish(t, err, errlen)) goto out;
    bytemap_free(&str2id);
    json_decref(root);
    return t;
out:
    if (str2id.slot) bytemap_free(&str2id);
    tok_free(t);
    json_decref(root);
    return NULL;
}

/* A JSON object: the first byte that is not white space is '{'. */
static int match_hf(const char *d, size_t n)
{
    size_t i = 0;
    while (i < n && (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t')) i++;
    return i < n && d[i] == '{';
}

const struct tok_format tok_format_hf = { match_hf, load_hf };

/* A token's byte-level string (UTF-8 of the mapped code points). */
static json_t *byte_level_string(const unsigned char *s, size_t n, const uint32_t to_cp[256])
{
    char *p = xmalloc(2 * n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = to_cp[s[i]];
        if (cp < 0x80) p[k++] = (char)cp;
        else { p[k++] = (char)(0xC0 | cp >> 6); p[k++] = (char)(0x80 | (cp & 0x3F)); }
    }
    json_t *j = json_stringn(p, k);
    free(p);
    return j;
}

/* The merge (l, r) as tokenizer.json's "LEFT RIGHT". */
static void add_merge(json_t *merges, const struct tokenizer *t, uint32_t l, uint32_t r, const uint32_t to_cp[256])
{
    json_t *a = byte_level_string((const unsigned char *)t->blob + t->off[l], t->len[l], to_cp);
    json_t *b = byte_level_string((const unsigned char *)t->blob + t->off[r], t->len[r], to_cp);
    size_t na = strlen(json_string_value(a)), nb = strlen(json_string_value(b));
    char *m = xmalloc(na + nb + 2);
    memcpy(m, json_string_value(a), na);
    m[na] = ' ';
    memcpy(m + na + 1, json_string_value(b), nb + 1);
    json_array_append_new(merges, json_string(m));
    free(m);
    json_decref(a);
    json_decref(b);
}

void tok_save_hf(const struct tokenizer *t, const char *path)
{
    uint32_t to_cp[256];
    byte_map(to_cp);
    json_t *root = json_object(), *added = json_array(), *vocab = json_object(), *merges = json_array();
    json_object_set_new(root, "version", json_string("1.0"));
    json_object_set_new(root, "truncation", json_null());
    json_object_set_new(root, "padding", json_null());
    for (uint32_t i = 0; i < t->nspecial; i++) {
        size_t n;
        uint32_t id;
        const char *s = tok_special(t, i, &n, &id);
        json_t *c = json_stringn(s, n);
        if (!c) die("%s: special token %u is not valid UTF-8; tokenizer.json cannot hold it", path_name(path), id);
        json_array_append_new(added, json_pack("{s:I, s:o, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)id,
                                               "content", c, "single_word", 0, "lstrip", 0, "rstrip", 0,
                                               "normalized", 0, "special", t->is_special[id] == TOK_SPECIAL));
    }
    json_object_set_new(root, "added_tokens", added);
    json_object_set_new(root, "normalizer", json_null());
    json_object_set_new(root, "pre_tokenizer", json_pack(
        "{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b, s:b}]}", "type", "Sequence", "pretokenizers",
        "type", "Split", "pattern", "Regex", t->pattern, "behavior", "Isolated", "invert", 0,
        "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 0));
    json_object_set_new(root, "post_processor", json_null());
    json_object_set_new(root, "decoder", json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel",
                                                   "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1));
    for (uint32_t id = 0; id < t->vocab; id++) {
        if (t->len[id] == TOK_NONE || t->is_special[id] == TOK_SPECIAL || t->is_special[id] == TOK_ADDED) continue;
        json_t *s = byte_level_string((const unsigned char *)t->blob + t->off[id], t->len[id], to_cp);
        json_object_set_new(vocab, json_string_value(s), json_integer(id));
        json_decref(s);
    }
    /* HF applies the listed merges in list order.  A tokenizer that has
     * them (a tokenizer.json) lists its own; one trained by tfs lists what
     * it learned, id 256 + i = merge i, in learning order.  For a tiktoken
     * vocabulary, which has none, list, for each token in id order, every
     * split of it into two tokens: tiktoken's rule (any pair whose
     * concatenation is a token, lowest id first) then merges the same
     * pairs in the same order.  ignore_merges (tokenizers 0.19 and later)
     * makes HF take a piece that is itself a token as is, as tiktoken and
     * tfs do; releases before it skip the key.  Each merge is written as
     * the string "LEFT RIGHT", the form every release reads (byte-level
     * tokens never hold a space: ' ' is written U+0120). */
    if (t->merge_list || (t->kind == TOK_TFS && t->nmerges)) {
        for (uint32_t i = 0; i < t->nmerges; i++)
            add_merge(merges, t, t->merges[i][0], t->merges[i][1], to_cp);
    } else {
        for (uint32_t id = 0; id < t->vocab; id++) {
            if (t->len[id] == TOK_NONE || t->is_special[id] || t->len[id] < 2) continue;
            const char *s = t->blob + t->off[id];
            for (uint32_t k = 1; k < t->len[id]; k++) {
                const uint64_t *l = bytemap_get(&t->ids, s, k), *r = bytemap_get(&t->ids, s + k, t->len[id] - k);
                if (l && r) add_merge(merges, t, (uint32_t)*l, (uint32_t)*r, to_cp);
            }
        }
    }
    json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE",
                              "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
                              "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", t->whole_piece,
                              "vocab", vocab, "merges", merges);
    json_object_set_new(root, "model", model);
    struct outfile o;
    FILE *f = outfile_open(&o, path);
    if (json_dumpf(root, f, JSON_PRESERVE_ORDER | JSON_INDENT(1)) != 0) die("%s: cannot write JSON", path_name(path));
    fputc('\n', f);
    outfile_commit(&o);
    json_decref(root);
}
