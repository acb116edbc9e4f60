/* config.c - "key = value" configuration files (see config.h). */
#include "model/config.h"
#include "core/xio.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct optdef *config_option(const struct optdef *opts, const char *name)
{
    for (const struct optdef *o = opts; o->name; o++)
        if (strcmp(o->name, name) == 0) return o;
    return NULL;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 16;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/configs/%s", dir, name);
    return p;
}

char *config_find(const char *name)
{
    if (strchr(name, '/') || access(name, R_OK) == 0) {
        if (access(name, R_OK) != 0) die_errno("cannot read configuration '%s'", name);
        return xstrdup(name);
    }
    const char *env = getenv("TFS_ASSETS");
    const char *dirs[3] = { env && *env ? env : NULL, TFS_DATADIR, "assets" };
    for (int i = 0; i < 3; i++) {
        if (!dirs[i]) continue;
        char *p = join(dirs[i], name);
        if (access(p, R_OK) == 0) return p;
        free(p);
    }
    die("no configuration '%s' (looked for configs/%s in %s%s and ./assets)",
        name, name, env && *env ? "$TFS_ASSETS, " : "", TFS_DATADIR);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

void config_load(const char *path, const struct optdef *opts, config_set_fn set, void *ctx)
{
    char *text = read_file(path, NULL);
    int lineno = 0;
    char where[512];
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        char *eq = strchr(s, '=');
        if (!eq) die("%s: expected 'key = value', got '%s'", where, s);
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        const struct optdef *o = config_option(opts, key);
        if (!o) die("%s: unknown setting '%s' (settings are the long options of %s --help)",
                    where, key, tfs_prog);
        set(ctx, o, val, where);
    }
    free(text);
}

void config_load_json(const char *json, const char *where, const struct optdef *opts,
                      config_set_fn set, void *ctx)
{
    json_error_t err;
    json_t *obj = json_loads(json, 0, &err);
    if (!obj || !json_is_object(obj)) die("%s: saved options are not a JSON object", where);
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        const struct optdef *o = config_option(opts, key);
        if (!o) die("%s: unknown saved option '%s'", where, key);
        if (!json_is_string(val)) die("%s: saved option '%s' is not a string", where, key);
        set(ctx, o, json_string_value(val), where);
    }
    json_decref(obj);
}

char *config_json(const struct optdef *opts, const char *const *values)
{
    json_t *obj = json_object();
    for (int i = 0; opts[i].name; i++)
        if (values[i]) json_object_set_new(obj, opts[i].name, json_string(values[i]));
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!s) die("out of memory");
    return s;
}
