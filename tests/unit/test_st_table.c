/* test_st_table.c - the tensor-table walker (core/st_table.c): patterns
 * expand layer by layer, offsets follow the stride, transposed tensors are
 * transposed on the way out and back on the way in, find gives slices, and
 * an export directory holds config.json and the tensors with the metadata. */
#include "unit.h"
#include "core/st_table.h"
#include "core/xio.h"

#include <stdio.h>

/* A made-up two-layer model: a (3, 2) matrix "emb" at 0, per layer a
 * vector of 2 ("norm") and a (2, 3) matrix stored transposed ("proj"),
 * then a final vector of 2. */
#define NB 26   /* 6 + 2 * (2 + 6) + 2 + 2 unused floats at the end */
static const struct st_pattern PAT[] = {
    { "emb", 0, 0, 3, 2, 0 },
    { "h.%d.norm", 6, 8, 2, 0, 0 },
    { "h.%d.proj", 8, 8, 2, 3, 1 },
    { "final", 22, 0, 2, 0, 0 },
};

TEST(patterns_expand_layer_by_layer)
{
    struct st_table t;
    st_table_build(&t, PAT, 4, 2);
    const char *names[] = { "emb", "h.0.norm", "h.0.proj", "h.1.norm", "h.1.proj", "final" };
    const size_t offs[] = { 0, 6, 8, 14, 16, 22 };
    CHECK(t.n == 6);
    for (int i = 0; i < t.n && i < 6; i++) {
        CHECK(strcmp(t.e[i].name, names[i]) == 0);
        CHECK(t.e[i].off == offs[i]);
    }
    CHECK(t.e[1].ndim == 1 && t.e[2].ndim == 2 && t.e[2].transpose);
    CHECK(st_entry_numel(&t.e[2]) == 6 && st_entry_numel(&t.e[5]) == 2);
    st_table_free(&t);
}

TEST(save_transposes_and_load_restores)
{
    float a[NB], b[NB];
    for (int i = 0; i < NB; i++) { a[i] = (float)(i + 1); b[i] = -1; }
    struct st_table t;
    st_table_build(&t, PAT, 4, 2);
    const char *path = unit_tmp("table.safetensors");
    struct st_writer *w = st_writer_new();
    st_table_save(w, &t, a, "");
    st_table_save(w, &t, a, "optimizer.m.");
    st_write(w, path);
    st_writer_free(w);
    st_table_free(&t);

    struct st_file *f = st_open(path);
    CHECK(f->ntensors == 12);
    /* layer 1's proj: ours (3, 2) at 16 = rows [17 18], [19 20], [21 22];
     * the file's (2, 3) is its transpose */
    const float *p = st_expect(f, "h.1.proj", 2, (int64_t[]){ 2, 3 });
    const float want[6] = { 17, 19, 21, 18, 20, 22 };
    CHECK(memcmp(p, want, sizeof want) == 0);
    CHECK(memcmp(st_expect(f, "optimizer.m.h.0.norm", 1, (int64_t[]){ 2 }), a + 6, 2 * sizeof(float)) == 0);
    st_table_build(&t, PAT, 4, 2);
    st_table_load(f, &t, b, "optimizer.m.");
    CHECK(memcmp(a, b, 24 * sizeof(float)) == 0);
    CHECK(b[24] == -1 && b[25] == -1);    /* not in the table: untouched */
    size_t n = 0;
    CHECK(st_table_find(&t, b, "h.1.norm", &n) == b + 14 && n == 2);
    CHECK(st_table_find(&t, b, "h.1.proj", &n) == NULL);    /* not a slice */
    CHECK(st_table_find(&t, b, "h.2.norm", &n) == NULL);
    st_table_free(&t);
    st_close(f);
}

TEST(export_writes_config_and_tensors)
{
    float a[NB];
    for (int i = 0; i < NB; i++) a[i] = (float)i / 4;
    struct st_table t;
    st_table_build(&t, PAT, 4, 1);
    CHECK(t.n == 4);
    char *dir = xstrdup(unit_tmp("export"));
    char *js = st_hf_config_dump(st_hf_config("FooForCausalLM", "foo"), 7, 9);
    CHECK(strstr(js, "\"architectures\": [\n    \"FooForCausalLM\"\n  ],\n  \"model_type\": \"foo\","));
    CHECK(strstr(js, "\"torch_dtype\": \"float32\",\n  \"bos_token_id\": 7,\n  \"eos_token_id\": 7\n}"));
    st_table_export(dir, js, &t, a, (const char *const[]){ "format", "pt", "k", "v", NULL }, ST_F32);
    st_table_free(&t);
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *cf = fopen(path, "r");
    char buf[1024] = { 0 };
    CHECK(cf && fread(buf, 1, sizeof buf - 1, cf) == strlen(js) + 1);
    if (cf) fclose(cf);
    CHECK(strncmp(buf, js, strlen(js)) == 0 && buf[strlen(js)] == '\n');
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct st_file *f = st_open(path);
    CHECK(f->ntensors == 4);
    CHECK(strcmp(st_meta_get(f, "format"), "pt") == 0 && strcmp(st_meta_get(f, "k"), "v") == 0);
    CHECK(st_expect(f, "final", 1, (int64_t[]){ 2 })[1] == a[23]);
    st_close(f);
    free(js);
    /* without an end-of-text id there are no bos and eos */
    js = st_hf_config_dump(st_hf_config("FooForCausalLM", "foo"), -1, 9);
    CHECK(!strstr(js, "bos_token_id") && !strstr(js, "eos_token_id"));
    free(js);
    free(dir);
}

int main(void)
{
    RUN(patterns_expand_layer_by_layer);
    RUN(save_transposes_and_load_restores);
    RUN(export_writes_config_and_tensors);
    return unit_summary();
}
