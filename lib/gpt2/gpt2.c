/* gpt2.c - GPT-2 (Radford et al., "Language Models are Unsupervised
 * Multitask Learners", 2019) with hand-written backward passes: the model
 * is the layers of ops.h chained in order, forward and then backward in
 * reverse.  See gpt2.h for the architecture and the API.
 *
 * Dimension legend:
 *   B batch, T sequence length, N = B*T rows, C width, L layers, NH heads,
 *   hs = C/NH head size, F = 4C MLP width, V vocabulary, ctx = context.
 *
 * Memory: four blocks of floats, each described by a size table.
 *   params   GPT2_NPARAMS tensors (gpt2.h), in one allocation;
 *   grads, m, v   the same layout, so the optimizer (kernels/optim.h) sees
 *                 each tensor with its gradient and moments at one offset;
 *   acts     NUM_ACTS activation tensors for the current (B, T), the
 *            inputs the backward pass needs;
 *   dacts    NUM_DACTS gradients of activations: ONE block's worth, reused
 *            by every layer on the way down (only the residual stream's
 *            gradient passes from one layer to the next), allocated by the
 *            first backward pass.
 *
 * Two paths (gpt2.h, m->plain): the fast one keeps attention's log-sum-exp
 * (L, B, NH, T) instead of its probabilities (L, B, NH, T, T) and computes
 * the logits CE_CHUNK rows at a time inside the loss (kernels/ops.h); the
 * plain one keeps both whole.  At GPT-2 124M with B x T = 4 x 1024 that is
 * 2.4 GB of probabilities and 0.8 GB of logits, each twice with their
 * gradients, which the fast path never holds.
 *
 * Threads: the GEMMs run in OpenBLAS (its OpenMP build), every other loop
 * is an `omp parallel for` in ops_*.c or here, all in one libgomp team.
 * A small model's training batch is instead split in two halves that run
 * side by side, one thread each (struct state below).
 */
#include "gpt2/gpt2.h"
#include "gpt2/gpt2_block.h"
#include "kernels/ops.h"
#include "core/pblock.h"
#include "kernels/optim.h"
#include "core/rng.h"
#include "core/xio.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ==== weights ============================================================ */

/* The size table of the parameter block, in block order. */
static void fill_param_sizes(size_t *s, const struct gpt2_config *cfg)
{
    size_t V = (size_t)cfg->vocab, P = (size_t)cfg->context, L = (size_t)cfg->layers, C = (size_t)cfg->dim;
    s[P_WTE] = V * C;
    s[P_WPE] = P * C;
    s[P_LN1W] = L * C;
    s[P_LN1B] = L * C;
    s[P_QKVW] = L * 3 * C * C;
    s[P_QKVB] = L * 3 * C;
    s[P_ATTPROJW] = L * C * C;
    s[P_ATTPROJB] = L * C;
    s[P_LN2W] = L * C;
    s[P_LN2B] = L * C;
    s[P_FCW] = L * 4 * C * C;
    s[P_FCB] = L * 4 * C;
    s[P_FCPROJW] = L * C * 4 * C;
    s[P_FCPROJB] = L * C;
    s[P_LNFW] = C;
    s[P_LNFB] = C;
}

void gpt2_init(struct gpt2 *m, const struct gpt2_config *cfg)
{
    if (cfg->vocab < 1 || cfg->context < 1 || cfg->layers < 1 || cfg->heads < 1 || cfg->dim < 1)
        die("model config: vocab, context, layers, heads and dim must be positive");
    if (cfg->dim % cfg->heads)
        die("model config: dim %d is not a multiple of heads %d", cfg->dim, cfg->heads);
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    fill_param_sizes(m->param_sizes, cfg);
    m->params = pblock_new(m->p, m->param_sizes, GPT2_NPARAMS, &m->nparams);
    m->mean_loss = -1;
}

/* ==== state: activations ================================================== */

enum act {
    A_ENCODED,      /* (N, C)        token + position embedding: the residual stream's start */
    A_LN1,          /* (L, N, C)     ln1 output */
    A_LN1_MEAN,     /* (L, N) */
    A_LN1_RSTD,     /* (L, N) */
    A_QKV,          /* (L, N, 3C) */
    A_ATTY,         /* (L, N, C)     attention output, heads side by side */
    A_ATT,          /* plain: (L, B, NH, T, T) attention probabilities;
                     * fast: (L, B, NH, T) log-sum-exp of each query's scores */
    A_ATTPROJ,      /* (N, C)        the attention projection's output, before the residual add:
                     *               one layer's, the backward pass does not need it */
    A_RESIDUAL2,    /* (L, N, C)     stream after the attention half of the block */
    A_LN2,          /* (L, N, C) */
    A_LN2_MEAN,     /* (L, N) */
    A_LN2_RSTD,     /* (L, N) */
    A_FCH,          /* (L, N, F)  plain: fc's output;  fast: GELU's derivative there */
    A_FCH_GELU,     /* (L, N, F) */
    A_FCPROJ,       /* (N, C)        the MLP's output, likewise (both: plain only;
                     *               fast: linear_forward_residual adds them to the stream) */
    A_RESIDUAL3,    /* (L, N, C)     stream after the whole block */
    A_LNF,          /* (N, C) */
    A_LNF_MEAN,     /* (N) */
    A_LNF_RSTD,     /* (N) */
    A_LOGITS,       /* whole loss (plain, or small N V): (N, V);
                     * chunked: (min(N, CE_CHUNK), V) one chunk of logits, scratch */
    A_LSE,          /* whole loss: (N)  log-sum-exp of each row of logits;  chunked: unused */
    A_LOSSES,       /* (N) */
    NUM_ACTS
};

/* The gradients the backward pass needs, one block's worth (layer l's
 * d x.ln1 and so on are computed, used and dropped before layer l - 1). */
enum dact {
    D_STREAM,       /* (N, C)  d loss / d (the residual stream): arrives at a block as
                     * d of its output and leaves it, in place, as d of its input */
    D_LN1,          /* (N, C) */
    D_QKV,          /* (N, 3C) */
    D_ATTY,         /* (N, C) */
    D_ATT,          /* plain: (B, NH, T, T) attention_backward's scratch;  fast: unused */
    D_LN2,          /* (N, C) */
    D_FCH_GELU,     /* (N, F)  d fch_gelu, then in its place d fch (gelu_backward in place) */
    D_LNF,          /* (N, C) */
    D_LOGITS,       /* plain: (N, V);  fast: unused (whole: in place of A_LOGITS; chunked: the chunk scratch) */
    D_LOSSES,       /* (N) */
    NUM_DACTS
};

struct acts {
    int plain;                      /* the path these sizes are for */
    int B, T;                       /* the rows they hold: the whole batch, or one shard of it */
    int whole_loss;                 /* the loss keeps the (N, V) logits whole (see loss_is_whole) */
    size_t size[NUM_ACTS], total;
    float *base, *a[NUM_ACTS];      /* activations */
    size_t dsize[NUM_DACTS], dtotal;
    float *dbase, *d[NUM_DACTS];    /* gradients (NULL until a backward pass) */
    float *whole_logits;            /* fast path: (N, V) for a forward without targets, on first use */
    uint32_t *inputs, *targets;     /* (N) copies of the last forward's batch */
    int has_targets;
};

/* The loss with the (N, V) logits whole, as the plain path computes it,
 * when they are small: the chunked loss (kernels/ops.h) saves their memory
 * by making each chunk's logits again in the backward pass, one GEMM of
 * the four the output projection costs, which at the tiny config (V 1,024,
 * 1,024 rows a shard: 4 MB of logits) is 4% of a step for nothing. */
#define WHOLE_LOSS_MAX ((size_t)1 << 20)      /* N V floats */

static int loss_is_whole(const struct gpt2_config *cfg, int B, int T, int plain)
{
    return plain || (size_t)B * T * cfg->vocab <= WHOLE_LOSS_MAX;
}

static void fill_act_sizes(size_t *s, size_t *ds, const struct gpt2_config *cfg, int B, int T, int plain)
{
    int whole = loss_is_whole(cfg, B, T, plain);
    size_t N = (size_t)B * T, C = (size_t)cfg->dim, L = (size_t)cfg->layers, NH = (size_t)cfg->heads;
    size_t V = (size_t)cfg->vocab, NATT = (size_t)B * NH * T * (plain ? (size_t)T : 1);
    s[A_ENCODED] = N * C;
    s[A_LN1] = L * N * C;
    s[A_LN1_MEAN] = L * N;
    s[A_LN1_RSTD] = L * N;
    s[A_QKV] = L * N * 3 * C;
    s[A_ATTY] = L * N * C;
    s[A_ATT] = L * NATT;
    s[A_ATTPROJ] = plain ? N * C : 0;     /* fast: added to the stream in place */
    s[A_RESIDUAL2] = L * N * C;
    s[A_LN2] = L * N * C;
    s[A_LN2_MEAN] = L * N;
    s[A_LN2_RSTD] = L * N;
    s[A_FCH] = L * N * 4 * C;
    s[A_FCH_GELU] = L * N * 4 * C;
    s[A_FCPROJ] = plain ? N * C : 0;
    s[A_RESIDUAL3] = L * N * C;
    s[A_LNF] = N * C;
    s[A_LNF_MEAN] = N;
    s[A_LNF_RSTD] = N;
    s[A_LOGITS] = (whole ? N : N < CE_CHUNK ? N : CE_CHUNK) * V;
    s[A_LSE] = whole ? N : 0;
    s[A_LOSSES] = N;

    ds[D_STREAM] = N * C;
    ds[D_LN1] = N * C;
    ds[D_QKV] = N * 3 * C;
    ds[D_ATTY] = N * C;
    ds[D_ATT] = plain ? NATT : 0;
    ds[D_LN2] = N * C;
    ds[D_FCH_GELU] = N * 4 * C;
    ds[D_LNF] = N * C;
    ds[D_LOGITS] = whole && plain ? N * V : 0;  /* fast: in place of the logits */
    ds[D_LOSSES] = N;
}

/* The batch split (gpt2.h, m->shards).  A step of a small model is many
 * small operations: at the tiny config (width 128, batch 16 x 128) a GEMM
 * takes tens of microseconds, and every one of them, and every element-wise
 * loop, is a parallel region whose threads must be woken and joined (with
 * OMP_WAIT_POLICY=PASSIVE they sleep in between).  That overhead, not the
 * arithmetic, is what two threads lose.  So a training batch of a small
 * model is cut into SHARDS fixed halves, each with its own activations and,
 * in the backward pass, its own parameter gradients: the halves run side
 * by side in ONE parallel region, each on one thread (OpenBLAS's OpenMP
 * build runs single-threaded inside a parallel region, and our own loops'
 * nested regions get one thread), and the gradients are added afterwards
 * in shard order.  The cut does not depend on the number of threads (one
 * thread runs the shards one after the other and gets the same bits), so a
 * run still repeats bit for bit; it differs from the unsplit pass only in
 * the order of the sums over rows of the weight gradients. */
#define SHARDS 2
/* "Small": below this many parameters the split is automatic.  GPT-2 124M
 * is above it; its GEMMs are large enough for OpenBLAS's own threads, and
 * a second gradient block would cost 0.5 GB. */
#define SPLIT_MAX_PARAMS (16u << 20)

struct state {                      /* m->acts */
    int nshards;                    /* 1, or SHARDS when the batch is split */
    struct acts *sh[SHARDS];        /* shard k holds batch rows [k B/S, (k+1) B/S) */
    float *grads;                   /* split: shard k >= 1's parameter gradients, (S - 1) blocks
                                     * of nparams; shard 0 accumulates into m->grads itself */
    float *losses;                  /* split: (N) every shard's losses, in batch order */
};

static void free_one(struct acts *A)
{
    if (!A) return;
    free(A->base);
    free(A->dbase);
    free(A->whole_logits);
    free(A->inputs);
    free(A->targets);
    free(A);
}

static void free_acts(struct gpt2 *m)
{
    struct state *st = m->acts;
    if (!st) return;
    for (int k = 0; k < st->nshards; k++) free_one(st->sh[k]);
    free(st->grads);
    free(st->losses);
    free(st);
    m->acts = NULL;
}

static struct acts *new_acts(const struct gpt2_config *cfg, int B, int T, int plain)
{
    struct acts *A = xcalloc(1, sizeof *A);
    A->plain = plain;
    A->whole_loss = loss_is_whole(cfg, B, T, plain);
    A->B = B;
    A->T = T;
    fill_act_sizes(A->size, A->dsize, cfg, B, T, A->plain);
    A->base = pblock_new(A->a, A->size, NUM_ACTS, &A->total);
    A->inputs = xmalloc((size_t)B * T * sizeof *A->inputs);
    A->targets = xmalloc((size_t)B * T * sizeof *A->targets);
    return A;
}

/* How many shards a forward pass over B rows uses: only training-shaped
 * passes (with targets) on the fast path are split, since the logits and
 * gpt2_layer_qkv hand out whole-batch buffers. */
static int nshards(const struct gpt2 *m, int B, int has_targets)
{
    if (!has_targets || m->plain || B % SHARDS) return 1;
    if (m->shards) return m->shards == SHARDS ? SHARDS : 1;
    /* automatic on up to SHARDS threads only: with more, the unsplit pass
     * gives OpenBLAS and our loops all of them, where the split would use
     * SHARDS.  1 and 2 threads split alike, so they give the same bits. */
    return m->nparams <= SPLIT_MAX_PARAMS && omp_get_max_threads() <= SHARDS ? SHARDS : 1;
}

static struct state *ensure_acts(struct gpt2 *m, int B, int T, int S)
{
    struct state *st = m->acts;
    if (st && m->B == B && m->T == T && st->nshards == S && st->sh[0]->plain == !!m->plain) return st;
    free_acts(m);
    st = xcalloc(1, sizeof *st);
    st->nshards = S;
    for (int k = 0; k < S; k++) st->sh[k] = new_acts(&m->cfg, B / S, T, !!m->plain);
    if (S > 1) st->losses = xmalloc((size_t)B * T * sizeof *st->losses);
    m->acts = st;
    m->B = B;
    m->T = T;
    m->logits = S == 1 && m->plain ? st->sh[0]->a[A_LOGITS] : NULL;
    m->losses = S == 1 ? st->sh[0]->a[A_LOSSES] : st->losses;
    return st;
}

void gpt2_free(struct gpt2 *m)
{
    free_acts(m);
    free(m->params);
    free(m->grads);
    free(m->m);
    free(m->v);
    memset(m, 0, sizeof *m);
}

/* GPT-2's initialisation (gpt2.h).  Tensors are filled in block order, each
 * element in memory order, from one generator: the same seed gives the same
 * weights on every machine. */
void gpt2_init_weights(struct gpt2 *m, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    double std_resid = 0.02 / sqrt(2.0 * m->cfg.layers);
    for (int i = 0; i < GPT2_NPARAMS; i++) {
        float *p = m->p[i];
        size_t n = m->param_sizes[i];
        switch (i) {
        case P_LN1W: case P_LN2W: case P_LNFW:
            for (size_t k = 0; k < n; k++) p[k] = 1;
            break;
        case P_QKVB: case P_ATTPROJB: case P_FCB: case P_FCPROJB: case P_LN1B: case P_LN2B: case P_LNFB:
            memset(p, 0, n * sizeof *p);
            break;
        default: {
            /* the two projections that write into the residual stream are
             * scaled by 1/sqrt(2L), so the stream's variance does not grow
             * with depth (GPT-2 paper, section 2.3) */
            double std = (i == P_ATTPROJW || i == P_FCPROJW) ? std_resid : 0.02;
            for (size_t k = 0; k < n; k++) p[k] = (float)(rng_normal(&r) * std);
        }
        }
    }
}

size_t gpt2_nparams_nonpos(const struct gpt2 *m)
{
    return m->nparams - m->param_sizes[P_WPE];
}

/* Training FLOPs per token: 2 per multiply-add in the forward pass, twice
 * that in the backward pass (gradients of inputs and of weights), so 6 per
 * parameter; attention adds QK^T and AV, 2 * 2 T C per layer forward, so
 * 12 L T C in all (nanoGPT's estimate_mfu; Kaplan et al. 2020, table 1). */
double gpt2_flops_per_token(const struct gpt2 *m, int T)
{
    return 6.0 * (double)gpt2_nparams_nonpos(m) + 12.0 * m->cfg.layers * (double)T * m->cfg.dim;
}

/* ==== layers: one block's slices of the tables ============================ */

/* Layer l's slice of each per-layer tensor: block_params (gpt2_block.h)
 * for the parameters and their gradients (same layout), block_acts for
 * the activations and theirs. */
struct block_acts {
    float *res;                 /* (N, C) the block's input: the stream so far */
    float *ln1, *ln1_mean, *ln1_rstd;
    float *qkv, *atty, *att, *attproj, *res2;
    float *ln2, *ln2_mean, *ln2_rstd;
    float *fch, *fch_gelu, *fcproj, *res3;
};

static struct block_acts block_acts(const struct acts *A, int l, const struct gpt2_config *cfg)
{
    float *const *a = A->a;
    size_t N = (size_t)A->B * A->T, C = (size_t)cfg->dim, NC = N * C;
    size_t natt = (size_t)A->B * cfg->heads * A->T * (A->plain ? (size_t)A->T : 1);
    return (struct block_acts){
        l ? a[A_RESIDUAL3] + (l - 1) * NC : a[A_ENCODED],
        a[A_LN1] + l * NC, a[A_LN1_MEAN] + l * N, a[A_LN1_RSTD] + l * N,
        a[A_QKV] + l * 3 * NC, a[A_ATTY] + l * NC, a[A_ATT] + l * natt,
        a[A_ATTPROJ], a[A_RESIDUAL2] + l * NC,
        a[A_LN2] + l * NC, a[A_LN2_MEAN] + l * N, a[A_LN2_RSTD] + l * N,
        a[A_FCH] + l * 4 * NC, a[A_FCH_GELU] + l * 4 * NC, a[A_FCPROJ],
        a[A_RESIDUAL3] + l * NC,
    };
}

/* ==== model: forward ======================================================= */

/* One shard's forward pass over its rows A->B x A->T, from the batch
 * copied into A->inputs (and A->targets); fills A's activations and, with
 * targets, its losses.  Reads the parameters only, so shards can run at
 * the same time. */
static void forward_rows(const struct gpt2 *m, struct acts *A)
{
    const int V = m->cfg.vocab, C = m->cfg.dim, L = m->cfg.layers, NH = m->cfg.heads;
    const int B = A->B, T = A->T, N = B * T;
    const uint32_t *inputs = A->inputs, *targets = A->has_targets ? A->targets : NULL;
    float **a = A->a;
    long NC = (long)N * C;

    embedding_forward(a[A_ENCODED], inputs, m->p[P_WTE], m->p[P_WPE], B, T, C);
    for (int l = 0; l < L; l++) {
        struct block_params w = block_params(m->p, l, (size_t)C);
        struct block_acts x = block_acts(A, l, &m->cfg);
        /* x2 = x + attn(ln1(x)) */
        layernorm_forward(x.ln1, x.ln1_mean, x.ln1_rstd, x.res, w.ln1w, w.ln1b, N, C);
        linear_forward(x.qkv, x.ln1, w.qkvw, w.qkvb, N, C, 3 * C);
        if (A->plain) attention_forward(x.atty, x.att, x.qkv, B, T, NH, NH, C / NH);
        else attention_tiled_forward(x.atty, x.att, x.qkv, B, T, NH, NH, C / NH);
        if (A->plain) {
            linear_forward(x.attproj, x.atty, w.projw, w.projb, N, C, C);
            residual_forward(x.res2, x.res, x.attproj, NC);
        } else {                        /* fast: the same sum, in one buffer */
            linear_forward_residual(x.res2, x.res, x.atty, w.projw, w.projb, N, C, C);
        }
        /* x3 = x2 + mlp(ln2(x2)),  mlp(h) = fcproj(gelu(fc(h))) */
        layernorm_forward(x.ln2, x.ln2_mean, x.ln2_rstd, x.res2, w.ln2w, w.ln2b, N, C);
        linear_forward(x.fch, x.ln2, w.fcw, w.fcb, N, C, 4 * C);
        /* fast: fch is read again only by GELU's backward, so its place
         * takes GELU's derivative instead (one tanh per element, not two) */
        if (A->plain) gelu_forward(x.fch_gelu, x.fch, 4 * NC);
        else gelu_forward_slope(x.fch_gelu, x.fch, x.fch, 4 * NC);
        if (A->plain) {
            linear_forward(x.fcproj, x.fch_gelu, w.fcprojw, w.fcprojb, N, 4 * C, C);
            residual_forward(x.res3, x.res2, x.fcproj, NC);
        } else {
            linear_forward_residual(x.res3, x.res2, x.fch_gelu, w.fcprojw, w.fcprojb, N, 4 * C, C);
        }
    }
    const float *last = a[A_RESIDUAL3] + (L - 1) * NC;
    layernorm_forward(a[A_LNF], a[A_LNF_MEAN], a[A_LNF_RSTD], last, m->p[P_LNFW], m->p[P_LNFB], N, C);
    /* logits = lnf @ wte^T: the output projection is the token embedding.
     * Whole when plain, when they are the result (no targets), or when
     * small (loss_is_whole); otherwise the loss makes them CE_CHUNK rows at
     * a time in the scratch a[A_LOGITS]. */
    if (!A->plain && !targets) {
        if (!A->whole_logits) A->whole_logits = xmalloc((size_t)N * V * sizeof(float));
        linear_forward(A->whole_logits, a[A_LNF], m->p[P_WTE], NULL, N, C, V);
        return;
    }
    if (A->plain) linear_forward(a[A_LOGITS], a[A_LNF], m->p[P_WTE], NULL, N, C, V);
    if (!targets) return;
    if (A->whole_loss && !A->plain) linear_forward(a[A_LOGITS], a[A_LNF], m->p[P_WTE], NULL, N, C, V);
    if (A->whole_loss) crossentropy_forward(a[A_LOSSES], a[A_LSE], a[A_LOGITS], targets, N, V);
    else crossentropy_chunked_forward(a[A_LOSSES], a[A_LOGITS], a[A_LNF], m->p[P_WTE], targets, N, C, V);
}

/* Threads for a region that runs S shards: one each, and no more than
 * OMP_NUM_THREADS allows (one thread runs them in turn, with the same bits). */
static int shard_threads(int S)
{
    int n = omp_get_max_threads();
    return n < S ? n : S;
}

float gpt2_forward(struct gpt2 *m, const uint32_t *inputs, const uint32_t *targets, int B, int T)
{
    const int V = m->cfg.vocab;
    if (B < 1 || T < 1 || T > m->cfg.context)
        die("gpt2_forward: batch %d x %d does not fit the model (context %d)", B, T, m->cfg.context);
    const int N = B * T;
    for (int n = 0; n < N; n++) {
        if (inputs[n] >= (uint32_t)V) die("token id %u at position %d is outside the model's vocabulary of %d", inputs[n], n, V);
        if (targets && targets[n] >= (uint32_t)V) die("target id %u at position %d is outside the model's vocabulary of %d", targets[n], n, V);
    }
    const int S = nshards(m, B, targets != NULL), rows = N / S;
    struct state *st = ensure_acts(m, B, T, S);
    for (int k = 0; k < S; k++) {      /* shard k's rows of the batch */
        struct acts *A = st->sh[k];
        memcpy(A->inputs, inputs + (size_t)k * rows, (size_t)rows * sizeof *inputs);
        A->has_targets = targets != NULL;
        if (targets) memcpy(A->targets, targets + (size_t)k * rows, (size_t)rows * sizeof *targets);
    }
    if (S == 1) forward_rows(m, st->sh[0]);
    else {
        #pragma omp parallel for num_threads(shard_threads(S)) schedule(static, 1)
        for (int k = 0; k < S; k++) forward_rows(m, st->sh[k]);
        for (int k = 0; k < S; k++)
            memcpy(st->losses + (size_t)k * rows, st->sh[k]->a[A_LOSSES], (size_t)rows * sizeof(float));
    }
    /* the logits are whole only unsplit: plain, or the result of a pass without targets */
    m->logits = st->sh[0]->plain ? st->sh[0]->a[A_LOGITS] : targets ? NULL : st->sh[0]->whole_logits;
    if (!targets) return m->mean_loss = -1;
    double sum = 0;
    for (int n = 0; n < N; n++) sum += m->losses[n];
    return m->mean_loss = (float)(sum / N);
}

/* Layer l's q, k, v (B*T, 3C) from the last forward pass: the input of
 * its attention, on either path (tfs-eval --attention recomputes the
 * probabilities from it, which the fast path never holds). */
const float *gpt2_layer_qkv(const struct gpt2 *m, int l)
{
    const struct state *st = m->acts;
    if (!st || l < 0 || l >= m->cfg.layers) die("gpt2_layer_qkv: no forward pass, or no layer %d", l);
    if (st->nshards > 1) die("gpt2_layer_qkv: the last forward pass split its batch (a pass without targets does not)");
    return st->sh[0]->a[A_QKV] + (size_t)l * m->B * m->T * 3 * m->cfg.dim;
}

/* ==== model: backward ====================================================== */

void gpt2_zero_grad(struct gpt2 *m)
{
    /* xzalloc_written: the first backward adds into these pages (reads
     * them first); see the moments below */
    if (!m->grads) m->grads = xzalloc_written(m->nparams * sizeof(float));
    else memset(m->grads, 0, m->nparams * sizeof(float));
}

/* d of the activation buffers that backward ops accumulate into: zeroed
 * before each use (the ops add, style.md 1). */
static void zero(float *p, size_t n) { memset(p, 0, n * sizeof *p); }

/* The forward pass run backwards, each op's backward accumulating into the
 * gradients of its inputs (ops.h), for one shard's rows.  Parameter
 * gradients go to grads (nparams floats, the parameter block's layout);
 * activation gradients to A's dacts, one block's worth reused by every
 * layer: block l's input gradient becomes block l - 1's output gradient.
 * dloss is d(the loss being differentiated)/d(one row's loss): scale / N
 * for the mean over the whole batch's N rows.  layer_done, when not NULL,
 * hears of each block's finished parameter gradients (gpt2.h). */
static void backward_rows(const struct gpt2 *m, struct acts *A, float *grads, float dloss,
                          void (*layer_done)(void *, int), void *layer_ctx)
{
    const int B = A->B, T = A->T, V = m->cfg.vocab, C = m->cfg.dim, L = m->cfg.layers, NH = m->cfg.heads;
    const int N = B * T;
    long NC = (long)N * C;
    if (!A->dbase) A->dbase = pblock_new(A->d, A->dsize, NUM_DACTS, &A->dtotal);
    float **a = A->a, **d = A->d, *g[GPT2_NPARAMS];
    for (int i = 0; i < GPT2_NPARAMS; i++) g[i] = grads + (m->p[i] - m->params);
    float *dstream = d[D_STREAM];       /* the residual stream's gradient */

    /* loss = scale * (1/N) sum_n losses[n]   =>   dlosses[n] = scale / N = dloss
     * logits = lnf @ wte^T: wte's second gradient (the embedding adds the first) */
    zero(d[D_LNF], (size_t)NC);
    if (A->whole_loss) {
        for (int n = 0; n < N; n++) d[D_LOSSES][n] = dloss;
        /* plain: into a zeroed dlogits; fast: in place of the logits, which
         * nothing reads after this (m->logits is NULL for a fast pass with
         * targets), saving the (N, V) block's zeroing and its memory */
        float *dz = A->plain ? d[D_LOGITS] : a[A_LOGITS];
        if (A->plain) zero(dz, A->dsize[D_LOGITS]);
        crossentropy_backward(dz, d[D_LOSSES], a[A_LOGITS], a[A_LSE], A->targets, N, V);
        linear_backward(d[D_LNF], g[P_WTE], NULL, dz, a[A_LNF], m->p[P_WTE], N, C, V);
    } else {
        /* the same, CE_CHUNK rows at a time, each chunk's logits made again */
        crossentropy_chunked_backward(d[D_LNF], g[P_WTE], a[A_LOGITS], a[A_LNF], m->p[P_WTE], A->targets,
                                      dloss, N, C, V);
    }
    zero(dstream, (size_t)NC);
    layernorm_backward(dstream, g[P_LNFW], g[P_LNFB], d[D_LNF],
                       a[A_RESIDUAL3] + (L - 1) * NC, m->p[P_LNFW], a[A_LNF_MEAN], a[A_LNF_RSTD], N, C);

    for (int l = L - 1; l >= 0; l--) {
        struct block_params w = block_params(m->p, l, (size_t)C), dw = block_params(g, l, (size_t)C);
        struct block_acts x = block_acts(A, l, &m->cfg);
        /* this block's activation gradients.  A residual x3 = x2 + f(x2)
         * has d x2 = d f = d x3 (residual_backward into zeros), so the
         * stream's one buffer serves as d res3, d fcproj, d res2, d attproj
         * and d res: d x3 arrives in it, each branch's linear layer reads it
         * as d of its output, and the branch's LayerNorm then adds its part
         * of d x2 into it, in place.  d fch is in place of d fch_gelu. */
        struct block_acts dx = {
            dstream, d[D_LN1], NULL, NULL, d[D_QKV], d[D_ATTY], d[D_ATT], dstream, dstream,
            d[D_LN2], NULL, NULL, d[D_FCH_GELU], d[D_FCH_GELU], dstream, dstream,
        };
        float *accumulated[] = {dx.ln1, dx.qkv, dx.atty, dx.ln2, dx.fch_gelu};
        size_t width[] = {1, 3, 1, 1, 4};    /* in units of N C */
        for (int k = 0; k < 5; k++) zero(accumulated[k], width[k] * NC);
        /* x3 = x2 + fcproj(gelu(fc(ln2(x2)))): d fcproj = d x3, then d x2 = d x3 + d(ln2's input) */
        linear_backward(dx.fch_gelu, dw.fcprojw, dw.fcprojb, dx.fcproj, x.fch_gelu, w.fcprojw, N, 4 * C, C);
        if (A->plain) gelu_backward(dx.fch, dx.fch_gelu, x.fch, 4 * NC);
        else gelu_backward_slope(dx.fch, dx.fch_gelu, x.fch, 4 * NC);   /* x.fch holds gelu' */
        linear_backward(dx.ln2, dw.fcw, dw.fcb, dx.fch, x.ln2, w.fcw, N, C, 4 * C);
        layernorm_backward(dx.res2, dw.ln2w, dw.ln2b, dx.ln2, x.res2, w.ln2w, x.ln2_mean, x.ln2_rstd, N, C);
        /* x2 = x + proj(attention(qkv(ln1(x)))): d attproj = d x2, then d x = d x2 + d(ln1's input);
         * plain: dx.att is attention's scratch */
        linear_backward(dx.atty, dw.projw, dw.projb, dx.attproj, x.atty, w.projw, N, C, C);
        if (A->plain) attention_backward(dx.qkv, dx.att, dx.atty, x.qkv, x.att, B, T, NH, NH, C / NH);
        else attention_tiled_backward(dx.qkv, dx.atty, x.atty, x.att, x.qkv, B, T, NH, NH, C / NH);
        linear_backward(dx.ln1, dw.qkvw, dw.qkvb, dx.qkv, x.ln1, w.qkvw, N, C, 3 * C);
        layernorm_backward(dx.res, dw.ln1w, dw.ln1b, dx.ln1, x.res, w.ln1w, x.ln1_mean, x.ln1_rstd, N, C);
        /* block l's input is block l - 1's output: dstream passes down as it is */
        if (layer_done) layer_done(layer_ctx, l);
    }
    embedding_backward(g[P_WTE], g[P_WPE], dstream, A->inputs, B, T, C);
}

void gpt2_backward(struct gpt2 *m, float scale)
{
    struct state *st = m->acts;
    if (!st || !st->sh[0]->has_targets) die("gpt2_backward: the last forward pass had no targets");
    if (!m->grads) gpt2_zero_grad(m);
    const int S = st->nshards;
    const float dloss = scale / ((float)m->B * m->T);
    if (S == 1) {
        backward_rows(m, st->sh[0], m->grads, dloss, m->layer_done, m->layer_ctx);
        return;
    }
    /* split: shard 0 accumulates into m->grads (which may hold earlier
     * micro-batches' sums), shard k >= 1 into its own zeroed block ... */
    const size_t P = m->nparams;
    if (!st->grads) st->grads = xmalloc((S - 1) * P * sizeof(float));
    #pragma omp parallel for num_threads(shard_threads(S)) schedule(static, 1)
    for (int k = 0; k < S; k++) {
        float *gk = k ? st->grads + (k - 1) * P : m->grads;
        if (k) zero(gk, P);
        backward_rows(m, st->sh[k], gk, dloss, NULL, NULL);
    }
    /* ... then grads = ((grads + g_0) + g_1) + ...: a fixed order, whatever
     * the threads (each element is its own sum, so the loop may be split) */
    for (int k = 1; k < S; k++) {
        const float *gk = st->grads + (k - 1) * P;
        float *g = m->grads;
        #pragma omp parallel for simd
        for (size_t i = 0; i < P; i++) g[i] += gk[i];
    }
    /* every block is complete only now */
    if (m->layer_done)
        for (int l = m->cfg.layers - 1; l >= 0; l--) m->layer_done(m->layer_ctx, l);
}

/* ==== optimizer ============================================================ */

int gpt2_param_decays(enum gpt2_param i)
{
    return i == P_WTE || i == P_WPE || i == P_QKVW || i == P_ATTPROJW || i == P_FCW || i == P_FCPROJW;
}

/* The parameters as the optimizer's list (kernels/optim.h): tensor k with
 * its gradient and moments at the same offset of their blocks. */
static void optim_list(const struct gpt2 *m, struct optim_tensor *ts)
{
    for (int k = 0; k < GPT2_NPARAMS; k++) {
        size_t off = (size_t)(m->p[k] - m->params);
        ts[k] = (struct optim_tensor){ m->params + off, m->grads + off, m->m ? m->m + off : NULL,
                                       m->v ? m->v + off : NULL, m->param_sizes[k], gpt2_param_decays(k) };
    }
}

int gpt2_optim_tensors(const struct gpt2 *m, struct optim_tensor *ts)
{
    optim_list(m, ts);
    return GPT2_NPARAMS;
}

float gpt2_grad_norm(const struct gpt2 *m)
{
    if (!m->grads) return 0;
    struct optim_tensor ts[GPT2_NPARAMS];
    optim_list(m, ts);
    return grad_norm(ts, GPT2_NPARAMS);
}

/* AdamW (optim.h), wd = 0 for biases and LayerNorm parameters (gpt2_param_decays). */
void gpt2_adamw_step(struct gpt2 *m, float lr, float beta1, float beta2, float eps,
                     float weight_decay, float grad_scale, int t)
{
    if (!m->grads) die("gpt2_adamw_step: no gradients (run gpt2_backward first)");
    if (t < 1) die("gpt2_adamw_step: step %d: steps count from 1", t);
    if (!m->m) {
        /* written once here (xio.h): the first step reads every moment
         * before it writes it, and calloc's pages would each be mapped to
         * the shared zero page, then copied, with a TLB flush on every
         * core the threads run on */
        m->m = xzalloc_written(m->nparams * sizeof(float));
        m->v = xzalloc_written(m->nparams * sizeof(float));
    }
    struct optim_tensor ts[GPT2_NPARAMS];
    optim_list(m, ts);
    adamw_step(ts, GPT2_NPARAMS, lr, beta1, beta2, eps, weight_decay, grad_scale, t);
}
