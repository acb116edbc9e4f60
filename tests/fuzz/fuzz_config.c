/* fuzz_config.c - "key = value" configuration files and the settings a
 * checkpoint keeps as a JSON object (model/config.c).  The input is the
 * file, then after a line "--" the JSON text. */
#include "fuzz.h"
#include "model/config.h"

#include <stdlib.h>
#include <string.h>

static const struct optdef OPTS[] = {
    { 'n', "layers", "N", "4", "layers" },
    { 256, "lr", "X", "3e-4", "learning rate" },
    { 257, "model", "NAME", "gpt2", "model" },
    { 'q', "quiet", NULL, NULL, "no progress" },
    { 0 }
};

static void set(void *ctx, const struct optdef *o, const char *value, const char *where)
{
    size_t *total = ctx;
    if (!o->name || !where) __builtin_trap();
    *total += strlen(value);
}

void fuzz_target(const uint8_t *data, size_t n)
{
    const uint8_t *rest;
    size_t rest_n, total = 0;
    size_t head = fuzz_split(data, n, &rest, &rest_n);
    config_load(fuzz_file("in.conf", data, head), OPTS, set, &total);
    char *json = malloc(rest_n + 1);
    memcpy(json, rest, rest_n);
    json[rest_n] = 0;
    config_load_json(json, "fuzz.json", OPTS, set, &total);
    free(json);
}
