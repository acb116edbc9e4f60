/* parity_init.c - the initial weights of a tfs-train run, for the PyTorch
 * twin of tests/bench/70-parity.sh.
 *
 *   parity_init LEVEL V CTX L NH C SEED OUT
 *
 * Builds the model that `tfs-train --model LEVEL --layers L --heads NH
 * --dim C --context CTX --seed SEED` starts from on a stream of vocabulary
 * V (model_init, then model_init_weights with the run's seed, as
 * lib/run/train.c's new_model does) and saves it with ckpt_save_model:
 * Hugging Face tensor names, tfs.arch and tfs.config, no training state.
 * The benchmark checks that it is the same start: the first losses of the
 * two runs, on the same first batch, must agree.
 */
#include <stdio.h>
#include <stdlib.h>

#include "model/checkpoint.h"
#include "model/model.h"
#include "core/xio.h"

static int arg_int(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0 || v > 1 << 30) die("not a count: '%s'", s);
    return (int)v;
}

int main(int argc, char **argv)
{
    tfs_set_prog("parity_init");
    if (argc != 9) {
        fprintf(stderr, "usage: parity_init LEVEL V CTX L NH C SEED OUT\n");
        return 2;
    }
    int arch = model_arch_parse(argv[1]);
    if (arch < 0) die("unknown level '%s'", argv[1]);
    struct model_config c = { .arch = (enum model_arch)arch, .vocab = arg_int(argv[2]),
                              .context = arg_int(argv[3]), .layers = arg_int(argv[4]),
                              .heads = arg_int(argv[5]), .dim = arg_int(argv[6]) };
    const char *err = model_config_error(&c);
    if (err) die("%s", err);
    struct model m;
    model_init(&m, &c);
    model_init_weights(&m, (uint64_t)arg_int(argv[7]));
    ckpt_save_model(argv[8], &m, 0, NULL, NULL);
    model_free(&m);
    return 0;
}
