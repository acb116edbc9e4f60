/* st_table.c - save, load, find and export a model's tensors by its table
 * of Hugging Face names (see st_table.h). */
#include "core/st_table.h"
#include "core/xio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int per_layer(const struct st_pattern *p) { return strstr(p->name, "%d") != NULL; }

static void put(struct st_entry *e, const struct st_pattern *p, int layer)
{
    /* the name is a pattern of the level's own table, never of a file */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    int len = snprintf(e->name, sizeof e->name, p->name, layer);
#pragma GCC diagnostic pop
    if (len < 0 || (size_t)len >= sizeof e->name) die("internal error: tensor name %s too long", p->name);
    e->off = p->off + (size_t)layer * p->stride;
    e->ndim = p->cols ? 2 : 1;
    e->shape[0] = p->rows;
    e->shape[1] = p->cols;
    e->transpose = p->transpose;
}

void st_table_build(struct st_table *t, const struct st_pattern *p, int np, int layers)
{
    memset(t, 0, sizeof *t);
    int n = 0;
    for (int i = 0; i < np; i++) n += per_layer(&p[i]) ? layers : 1;
    t->e = xcalloc((size_t)n, sizeof *t->e);
    for (int i = 0; i < np;) {
        if (!per_layer(&p[i])) { put(&t->e[t->n++], &p[i], 0); i++; continue; }
        int end = i;
        while (end < np && per_layer(&p[end])) end++;
        for (int l = 0; l < layers; l++)
            for (int j = i; j < end; j++) put(&t->e[t->n++], &p[j], l);
        i = end;
    }
}

void st_table_free(struct st_table *t)
{
    for (int i = 0; i < t->nscratch; i++) free(t->scratch[i]);
    free(t->scratch);
    free(t->e);
    memset(t, 0, sizeof *t);
}

size_t st_entry_numel(const struct st_entry *e)
{
    return (size_t)e->shape[0] * (e->ndim == 2 ? (size_t)e->shape[1] : 1);
}

/* dst (cols, rows) = src (rows, cols) transposed. */
static void transpose(float *dst, const float *src, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
}

void st_table_save(struct st_writer *w, struct st_table *t, const float *block, const char *prefix)
{
    char name[160];
    for (int i = 0; i < t->n; i++) {
        const struct st_entry *e = &t->e[i];
        const float *src = block + e->off;
        if (e->transpose) {
            /* ours (shape[1], shape[0]); the file wants (shape[0], shape[1]) */
            float *b = xmalloc(st_entry_numel(e) * sizeof *b);
            transpose(b, src, (size_t)e->shape[1], (size_t)e->shape[0]);
            t->scratch = xrealloc(t->scratch, (size_t)(t->nscratch + 1) * sizeof *t->scratch);
            t->scratch[t->nscratch++] = b;
            src = b;
        }
        snprintf(name, sizeof name, "%s%s", prefix, e->name);
        st_add(w, name, src, e->ndim, e->shape);
    }
}

void st_table_load(const struct st_file *f, const struct st_table *t, float *block, const char *prefix)
{
    char name[160];
    for (int i = 0; i < t->n; i++) {
        const struct st_entry *e = &t->e[i];
        snprintf(name, sizeof name, "%s%s", prefix, e->name);
        const float *src = st_expect(f, name, e->ndim, e->shape);
        float *dst = block + e->off;
        if (e->transpose) transpose(dst, src, (size_t)e->shape[0], (size_t)e->shape[1]);
        else memcpy(dst, src, st_entry_numel(e) * sizeof *dst);
    }
}

float *st_table_find(const struct st_table *t, float *block, const char *name, size_t *n)
{
    for (int i = 0; i < t->n; i++)
        if (!t->e[i].transpose && !strcmp(t->e[i].name, name)) {
            *n = st_entry_numel(&t->e[i]);
            return block + t->e[i].off;
        }
    return NULL;
}

json_t *st_hf_config(const char *architecture, const char *model_type)
{
    json_t *j = json_object();
    json_object_set_new(j, "architectures", json_pack("[s]", architecture));
    json_object_set_new(j, "model_type", json_string(model_type));
    return j;
}

char *st_hf_config_dump(json_t *j, long eot, int digits)
{
    json_object_set_new(j, "torch_dtype", json_string("float32"));
    if (eot >= 0) {
        json_object_set_new(j, "bos_token_id", json_integer(eot));
        json_object_set_new(j, "eos_token_id", json_integer(eot));
    }
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(digits));
    json_decref(j);
    if (!s) die("out of memory writing config.json");
    return s;
}

void st_table_export(const char *dir, const char *config_json, struct st_table *t,
                     const float *block, const char *const *meta, enum st_dtype dtype)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) die_errno("cannot create directory '%s'", dir);
    size_t n = strlen(dir) + 32;
    char *path = xmalloc(n);
    snprintf(path, n, "%s/config.json", dir);
    struct outfile o;
    FILE *f = outfile_open(&o, path);
    /* st_hf_config_dump wrote torch_dtype "float32": the one key we change */
    const char *key = "\"torch_dtype\": \"float32\"", *at = strstr(config_json, key);
    const char *tname = dtype == ST_BF16 ? "bfloat16" : dtype == ST_F16 ? "float16" : "float32";
    if (at) fprintf(f, "%.*s\"torch_dtype\": \"%s\"%s\n", (int)(at - config_json), config_json, tname,
                    at + strlen(key));
    else fprintf(f, "%s\n", config_json);
    outfile_commit(&o);
    struct st_writer *w = st_writer_new();
    st_writer_dtype(w, dtype);
    st_table_save(w, t, block, "");
    for (; *meta; meta += 2) st_meta(w, meta[0], meta[1]);
    snprintf(path, n, "%s/model.safetensors", dir);
    st_write(w, path);
    st_writer_free(w);
    free(path);
}
