/* config.h - configuration files: named sets of command-line options.
 *
 * A configuration is a text file of "key = value" lines, where each key is
 * the long name of a program option (without "--") and the value is what
 * would follow it on the command line:
 *
 *     # assets/configs/tiny: a ~1M-parameter model for tests and the demo
 *     layers  = 4
 *     dim     = 128
 *     lr      = 3e-3
 *
 * Blank lines and lines starting with '#' are ignored; spaces around the key
 * and the value are trimmed; a flag (an option without an argument) is
 * written "key = 1" or "key = 0".  The command line then overrides what a
 * file sets, because the program applies the file first.
 *
 * A name without a '/' that is not an existing file is looked up as
 * configs/NAME in, in order: $TFS_ASSETS, the installed data folder
 * (TFS_DATADIR, fixed at build time), and ./assets.
 */
#ifndef TFS_CONFIG_H
#define TFS_CONFIG_H

#include "core/opts.h"

/* Called for each setting with the option's table entry and its value;
 * `where` is "FILE:LINE" for messages. */
typedef void (*config_set_fn)(void *ctx, const struct optdef *opt, const char *value, const char *where);

/* The path of configuration NAME (see above), or die listing where it looked. */
char *config_find(const char *name);

/* Read the file at path and call set() for each line.  An unknown key or a
 * line without '=' stops the program: "prog: FILE:LINE: what" (exit 1). */
void config_load(const char *path, const struct optdef *opts, config_set_fn set, void *ctx);

/* The same for settings kept as a flat JSON object {"key": "value", ...}
 * (how checkpoints remember the options of the run that wrote them);
 * `where` names the source in messages. */
void config_load_json(const char *json, const char *where, const struct optdef *opts,
                      config_set_fn set, void *ctx);

/* A flat JSON object of the settings whose values[i] (parallel to opts) is
 * not NULL, in table order.  Free the result. */
char *config_json(const struct optdef *opts, const char *const *values);

/* The table entry whose long name is `name`, or NULL. */
const struct optdef *config_option(const struct optdef *opts, const char *name);

#endif
