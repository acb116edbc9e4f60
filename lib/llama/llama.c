/* llama.c - the baseline model: parameters, activations, forward, backward,
 * the optimizer's view of the parameters, KV-cache inference.  Architecture
 * and legend: llama.h.  The layers themselves are in llama_ops.c; attention
 * (tiled, or plain with --plain, and the KV step) in kernels/attention.c;
 * the projections and the cross-entropy (plain and chunked) in
 * kernels/ops.h, AdamW and the gradient norm in kernels/optim.h.
 *
 * Data flow of one block l (slot s holds its activations):
 *   res[l]  --rmsnorm g1-->  xn1  --Wqkv-->  qkv  --rope-->  qkv
 *           --attention-->  att  --Wo-->  tmp
 *   h = res[l] + tmp,  hn = rmsnorm(h) g2       (fused residual + norm)
 *   hn --Wgu--> gu --swiglu--> act --Wdown--> tmp
 *   res[l+1] = h + tmp,  next xn1 = rmsnorm(res[l+1]) g1[l+1]   (fused; g of the final norm after the last block)
 * With recomputation only res[0..L] is kept across the whole pass: one
 * slot is shared by all blocks and the backward pass recomputes block l's
 * activations from res[l] just before it needs them.
 */
#include "llama/llama.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "llama/llama_ops.h"
#include "kernels/ops.h"
#include "core/pblock.h"
#include "kernels/optim.h"
#include "core/rng.h"
#include "core/xio.h"

/* ======================================================================
 * config
 * ==================================================================== */

/* Llama 3's rope scaling (the "llama3" rope_type of transformers'
 * modeling_rope_utils), which stretches a model trained on orig tokens to
 * a longer context: with inv_i = theta^(-2i/hs) and wavelength w = 2 pi /
 * inv_i,
 *   w > orig / low:    inv_i / factor            (low frequencies: stretched)
 *   w < orig / high:   inv_i                     (high frequencies: kept)
 *   between:           (1 - s) inv_i / factor + s inv_i,
 *                      s = (orig / w - low) / (high - low)
 * then angle = t inv_i as before. */
static void rope_llama3(float *cos_t, float *sin_t, const struct llama_config *c, int hs)
{
    int h2 = hs / 2;
    double orig = c->rope_orig_context, lo = c->rope_low_freq, hi = c->rope_high_freq, f = c->rope_factor;
    for (int i = 0; i < h2; i++) {
        double inv = pow((double)c->rope_theta, -2.0 * i / hs), w = 2 * M_PI / inv;
        if (w > orig / lo) inv /= f;
        else if (!(w < orig / hi)) {
            double sm = (orig / w - lo) / (hi - lo);
            inv = (1 - sm) * inv / f + sm * inv;
        }
        for (int t = 0; t < c->context; t++) {
            cos_t[(size_t)t * h2 + i] = (float)cos(t * inv);
            sin_t[(size_t)t * h2 + i] = (float)sin(t * inv);
        }
    }
}

int llama_head_dim(const struct llama_config *c)
{
    return c->head_dim ? c->head_dim : c->dim / c->heads;
}

struct llama_config llama_config_default(int vocab, int context, int layers, int heads, int dim)
{
    struct llama_config c = {
        .vocab = vocab, .context = context, .layers = layers, .heads = heads, .kv_heads = heads,
        .dim = dim, .hidden = (8 * dim / 3 + 31) / 32 * 32, .tied = 1,
        .rope_theta = 10000, .norm_eps = 1e-5f,
    };
    return c;
}

const char *llama_config_error(const struct llama_config *c)
{
    if (c->vocab < 2) return "vocabulary must have at least 2 tokens";
    if (c->context < 1) return "context must be at least 1";
    if (c->layers < 1) return "layers must be at least 1";
    if (c->heads < 1 || c->dim < 2) return "dim must be a multiple of heads";
    if (c->head_dim < 0 || c->head_dim > (1 << 16)) return "head_dim must be 0 (dim / heads) or a positive size";
    if (!c->head_dim && c->dim % c->heads) return "dim must be a multiple of heads";
    if (!c->head_dim && (c->dim / c->heads) % 2) return "head size (dim / heads) must be even for rotary embeddings";
    if (c->head_dim % 2) return "head_dim must be even for rotary embeddings";
    if (c->kv_heads < 1 || c->heads % c->kv_heads) return "heads must be a multiple of kv-heads";
    if (c->hidden < 1) return "hidden width must be at least 1";
    if (!(c->rope_theta > 1)) return "rope theta must be > 1";
    if (!(c->norm_eps > 0)) return "norm epsilon must be > 0";
    if (c->rope_factor != 0 && !(c->rope_factor >= 1 && c->rope_low_freq > 0 &&
                                 c->rope_high_freq > c->rope_low_freq && c->rope_orig_context > 0))
        return "rope scaling needs factor >= 1, 0 < low_freq_factor < high_freq_factor and an original context";
    return NULL;
}

/* ======================================================================
 * weights
 * ==================================================================== */

static const char *const param_names[LLAMA_NPARAMS] = {
    "embed", "attn_norm", "wqkv", "wo", "mlp_norm", "wgu", "wdown", "norm", "head",
};

const char *llama_param_name(enum llama_param i) { return param_names[i]; }

int llama_param_decays(enum llama_param i)
{
    return !(i == LP_ATTN_NORM || i == LP_MLP_NORM || i == LP_NORM);
}

void llama_init(struct llama *m, const struct llama_config *cfg)
{
    const char *err = llama_config_error(cfg);
    if (err) die("bad model config: %s", err);
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    /* one spelling of the default head size: 0 */
    if (cfg->head_dim && cfg->dim % cfg->heads == 0 && cfg->head_dim == cfg->dim / cfg->heads) m->cfg.head_dim = 0;
    size_t V = cfg->vocab, C = cfg->dim, L = cfg->layers, F = cfg->hidden;
    size_t hs = (size_t)llama_head_dim(cfg), QD = (size_t)cfg->heads * hs;
    size_t QKV = QD + 2 * (size_t)cfg->kv_heads * hs;
    size_t *s = m->param_sizes;
    s[LP_EMBED] = V * C;
    s[LP_ATTN_NORM] = L * C;
    s[LP_WQKV] = L * QKV * C;
    s[LP_WO] = L * C * QD;
    s[LP_MLP_NORM] = L * C;
    s[LP_WGU] = L * 2 * F * C;
    s[LP_WDOWN] = L * C * F;
    s[LP_NORM] = C;
    s[LP_HEAD] = cfg->tied ? 0 : V * C;
    m->params = pblock_new(m->p, s, LLAMA_NPARAMS, &m->nparams);
    if (cfg->tied) m->p[LP_HEAD] = m->p[LP_EMBED];
    m->rope_cos = xmalloc((size_t)cfg->context * (hs / 2) * sizeof(float));
    m->rope_sin = xmalloc((size_t)cfg->context * (hs / 2) * sizeof(float));
    rope_tables(m->rope_cos, m->rope_sin, cfg->context, (int)hs, cfg->rope_theta);
    if (cfg->rope_factor != 0) rope_llama3(m->rope_cos, m->rope_sin, cfg, (int)hs);
    m->mean_loss = -1;
}

static void free_acts(struct llama *m);

void llama_free(struct llama *m)
{
    free_acts(m);
    free(m->params);
    free(m->grads);
    free(m->m);
    free(m->v);
    free(m->rope_cos);
    free(m->rope_sin);
    memset(m, 0, sizeof *m);
}

void llama_init_weights(struct llama *m, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    float resid = 0.02f / sqrtf(2.0f * m->cfg.layers);
    for (int i = 0; i < LLAMA_NPARAMS; i++) {
        float *w = m->p[i];
        size_t n = m->param_sizes[i];
        if (!llama_param_decays(i)) { for (size_t k = 0; k < n; k++) w[k] = 1; continue; }
        float sd = (i == LP_WO || i == LP_WDOWN) ? resid : 0.02f;
        for (size_t k = 0; k < n; k++) w[k] = (float)(sd * rng_normal(&r));
    }
}

size_t llama_nparams_flops(const struct llama *m)
{
    return m->nparams - (m->cfg.tied ? 0 : m->param_sizes[LP_EMBED])
           - m->param_sizes[LP_ATTN_NORM] - m->param_sizes[LP_MLP_NORM] - m->param_sizes[LP_NORM];
}

double llama_flops_per_token(const struct llama *m, int T)
{
    /* q.k and p.v are QD = NH hs wide (= C unless head_dim is set) */
    return 6.0 * (double)llama_nparams_flops(m) + 12.0 * m->cfg.layers * (double)T * m->cfg.heads * llama_head_dim(&m->cfg);
}

/* ======================================================================
 * state: activations for one (B, T)
 * ==================================================================== */

struct acts {
    int B, T, slots, recompute, plain;
    uint32_t *targets;  /* (N) copy of the last targets, for the backward pass */
    uint32_t *inputs;   /* (N) */
    float *res;     /* (L+1, N, C) residual stream entering block l; res[L] enters the final norm */
    float *xnf;     /* (N, C)  final norm output */
    float *rstdf;   /* (N) */
    /* per slot (S = L, or 1 with recomputation) */
    float *xn1;     /* (S, N, C)    rmsnorm(res[l]) g1 */
    float *rstd1;   /* (S, N) */
    float *qkv;     /* (S, N, QKV)  after rope */
    float *att;     /* (S, N, QD)    attention output, heads side by side */
    float *lse;     /* (S, B, NH, T) log-sum-exp of each query's scores (flash path) */
    float *probs;   /* (S, B, NH, T, T) attention probabilities (plain path only) */
    float *h;       /* (S, N, C)    res[l] + attention */
    float *hn;      /* (S, N, C)    rmsnorm(h) g2 */
    float *rstd2;   /* (S, N) */
    float *gu;      /* (S, N, 2F)   [gate | up] */
    float *act;     /* (S, N, F)    silu(gate) * up */
    float *tmp;     /* (N, C)       a projection's output before its residual add */
    float *z;       /* (CE_CHUNK, V) one chunk of logits */
    /* backward scratch, one block's worth */
    float *dres;    /* (N, C)  d loss / d res[l], flowing down the residual stream */
    float *dxn;     /* (N, C)  d of a norm output */
    float *dqkv;    /* (N, QKV) */
    float *datt;    /* (N, QD) */
    float *dprobs;  /* (B, NH, T, T) attention's backward scratch (plain path only) */
    float *dgu;     /* (N, 2F) */
    float *dact;    /* (N, F) */
};

static void free_acts(struct llama *m)
{
    struct acts *a = m->acts;
    if (!a) return;
    float *bufs[] = { a->res, a->xnf, a->rstdf, a->xn1, a->rstd1, a->qkv, a->att, a->lse, a->probs,
                      a->h, a->hn, a->rstd2, a->gu, a->act, a->tmp, a->z, a->dres, a->dxn, a->dqkv,
                      a->datt, a->dprobs, a->dgu, a->dact };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(a->inputs);
    free(a->targets);
    free(a);
    free(m->logits);
    free(m->losses);
    m->acts = NULL;
    m->logits = m->losses = NULL;
}

static float *fbuf(size_t n) { return xmalloc((n ? n : 1) * sizeof(float)); }

static struct acts *get_acts(struct llama *m, int B, int T)
{
    struct acts *a = m->acts;
    if (a && a->B == B && a->T == T && a->recompute == m->recompute && a->plain == m->plain) return a;
    free_acts(m);
    const struct llama_config *c = &m->cfg;
    size_t N = (size_t)B * T, C = c->dim, L = c->layers, F = c->hidden, NH = c->heads;
    size_t hs = (size_t)llama_head_dim(c), QD = NH * hs, QKV = QD + 2 * (size_t)c->kv_heads * hs;
    size_t S = m->recompute ? 1 : L;
    a = xcalloc(1, sizeof *a);
    a->B = B; a->T = T; a->slots = (int)S; a->recompute = m->recompute; a->plain = m->plain;
    a->inputs = xmalloc(N * sizeof *a->inputs);
    a->targets = xmalloc(N * sizeof *a->targets);
    a->res = fbuf((L + 1) * N * C);
    a->xnf = fbuf(N * C);
    a->rstdf = fbuf(N);
    a->xn1 = fbuf(S * N * C);
    a->rstd1 = fbuf(S * N);
    a->qkv = fbuf(S * N * QKV);
    a->att = fbuf(S * N * QD);
    if (m->plain) {
        a->probs = fbuf(S * B * NH * T * T);
        a->dprobs = fbuf((size_t)B * NH * T * T);
    } else a->lse = fbuf(S * B * NH * T);
    a->h = fbuf(S * N * C);
    a->hn = fbuf(S * N * C);
    a->rstd2 = fbuf(S * N);
    a->gu = fbuf(S * N * 2 * F);
    a->act = fbuf(S * N * F);
    a->tmp = fbuf(N * C);
    a->z = fbuf((N < CE_CHUNK ? N : CE_CHUNK) * (size_t)c->vocab);
    a->dres = fbuf(N * C);
    a->dxn = fbuf(N * C);
    a->dqkv = fbuf(N * QKV);
    a->datt = fbuf(N * QD);
    a->dgu = fbuf(N * 2 * F);
    a->dact = fbuf(N * F);
    m->losses = fbuf(N);
    m->acts = a;
    m->B = B;
    m->T = T;
    return a;
}

/* Pointers to one block's activations: into slot l, or the shared slot 0. */
struct block {
    float *xn1, *rstd1, *qkv, *att, *lse, *probs, *h, *hn, *rstd2, *gu, *act;
};

static struct block block_of(const struct llama *m, const struct acts *a, int l)
{
    const struct llama_config *c = &m->cfg;
    size_t N = (size_t)a->B * a->T, C = c->dim, F = c->hidden, NH = c->heads, T = a->T;
    size_t hs = (size_t)llama_head_dim(c), QD = NH * hs, QKV = QD + 2 * (size_t)c->kv_heads * hs;
    size_t s = a->slots == 1 ? 0 : (size_t)l;
    struct block b = {
        a->xn1 + s * N * C, a->rstd1 + s * N, a->qkv + s * N * QKV, a->att + s * N * QD,
        a->lse ? a->lse + s * a->B * NH * T : NULL, a->probs ? a->probs + s * a->B * NH * T * T : NULL,
        a->h + s * N * C, a->hn + s * N * C, a->rstd2 + s * N, a->gu + s * N * 2 * F, a->act + s * N * F,
    };
    return b;
}

/* ======================================================================
 * model: forward
 * ==================================================================== */

/* xout = x + delta, then y = rmsnorm(xout) g: fused, or (plain) in two passes. */
static void add_norm(const struct llama *m, float *xout, float *y, float *rstd, const float *x,
                     const float *delta, const float *g, int N)
{
    int C = m->cfg.dim;
    if (!m->plain) { residual_rmsnorm_forward(xout, y, rstd, x, delta, g, N, C, m->cfg.norm_eps); return; }
    residual_forward(xout, x, delta, (long)N * C);
    rmsnorm_forward(y, rstd, xout, g, N, C, m->cfg.norm_eps);
}

/* Block l from its normalised input b.xn1 up to tmp = the MLP's output
 * (the caller adds it to h and normalises for the next block). */
static void block_forward(struct llama *m, struct acts *a, int l)
{
    const struct llama_config *c = &m->cfg;
    int B = a->B, T = a->T, N = B * T, C = c->dim, F = c->hidden, NH = c->heads, NKV = c->kv_heads;
    int hs = llama_head_dim(c), QD = NH * hs, QKV = QD + 2 * NKV * hs;
    struct block b = block_of(m, a, l);
    const float *Wqkv = m->p[LP_WQKV] + (size_t)l * QKV * C, *Wo = m->p[LP_WO] + (size_t)l * C * QD;
    const float *g2 = m->p[LP_MLP_NORM] + (size_t)l * C;
    const float *Wgu = m->p[LP_WGU] + (size_t)l * 2 * F * C, *Wd = m->p[LP_WDOWN] + (size_t)l * C * F;

    linear_forward(b.qkv, b.xn1, Wqkv, NULL, N, C, QKV);
    rope_forward(b.qkv, m->rope_cos, m->rope_sin, B, T, 0, NH, NKV, hs);
    if (m->plain) attention_forward(b.att, b.probs, b.qkv, B, T, NH, NKV, hs);
    else attention_tiled_forward(b.att, b.lse, b.qkv, B, T, NH, NKV, hs);
    linear_forward(a->tmp, b.att, Wo, NULL, N, QD, C);     /* (N, QD) -> (N, C) */
    add_norm(m, b.h, b.hn, b.rstd2, a->res + (size_t)l * N * C, a->tmp, g2, N);
    linear_forward(b.gu, b.hn, Wgu, NULL, N, C, 2 * F);
    swiglu_forward(b.act, b.gu, N, F);
    linear_forward(a->tmp, b.act, Wd, NULL, N, F, C);
}

float llama_forward(struct llama *m, const uint32_t *inputs, const uint32_t *targets, int B, int T)
{
    const struct llama_config *c = &m->cfg;
    if (B < 1 || T < 1 || T > c->context) die("llama_forward: T = %d outside 1..%d", T, c->context);
    struct acts *a = get_acts(m, B, T);
    int N = B * T, C = c->dim, L = c->layers, V = c->vocab;
    for (int n = 0; n < N; n++) {
        if (inputs[n] >= (uint32_t)V) die("token id %u out of range for vocabulary %d", inputs[n], V);
        if (targets && targets[n] >= (uint32_t)V) die("target id %u out of range for vocabulary %d", targets[n], V);
    }
    memcpy(a->inputs, inputs, (size_t)N * sizeof *inputs);

    /* res[0] = embed[token] */
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        memcpy(a->res + (size_t)n * C, m->p[LP_EMBED] + (size_t)inputs[n] * C, (size_t)C * sizeof(float));
    struct block b0 = block_of(m, a, 0);
    rmsnorm_forward(b0.xn1, b0.rstd1, a->res, m->p[LP_ATTN_NORM], N, C, c->norm_eps);

    for (int l = 0; l < L; l++) {
        block_forward(m, a, l);
        struct block b = block_of(m, a, l);
        int last = l == L - 1;
        struct block nb = last ? b : block_of(m, a, l + 1);
        add_norm(m, a->res + (size_t)(l + 1) * N * C, last ? a->xnf : nb.xn1, last ? a->rstdf : nb.rstd1,
                 b.h, a->tmp, last ? m->p[LP_NORM] : m->p[LP_ATTN_NORM] + (size_t)(l + 1) * C, N);
    }

    if (!targets || m->plain) {     /* whole logits: generation-style use, or the plain reference */
        free(m->logits);
        m->logits = fbuf((size_t)N * V);
        linear_forward(m->logits, a->xnf, m->p[LP_HEAD], NULL, N, C, V);
    }
    if (!targets) { m->mean_loss = -1; return -1; }
    memcpy(a->targets, targets, (size_t)N * sizeof *targets);
    if (m->plain) {
        float *lse = fbuf((size_t)N);
        crossentropy_forward(m->losses, lse, m->logits, targets, N, V);
        free(lse);
    }
    else crossentropy_chunked_forward(m->losses, a->z, a->xnf, m->p[LP_HEAD], targets, N, C, V);
    double sum = 0;
    for (int n = 0; n < N; n++) sum += m->losses[n];
    m->mean_loss = (float)(sum / N);
    return m->mean_loss;
}

/* Layer l's rotated q, k and v from the last forward pass: its slot of
 * qkv.  With recomputation only one slot is kept (the last layer's). */
const float *llama_layer_qkv(const struct llama *m, int l)
{
    const struct acts *a = m->acts;
    if (!a || l < 0 || l >= m->cfg.layers) die("llama_layer_qkv: no forward pass, or no layer %d", l);
    if (a->slots == 1 && l != m->cfg.layers - 1)
        die("llama_layer_qkv: the forward pass recomputed its layers; run it without recompute");
    return block_of(m, a, l).qkv;
}

/* ======================================================================
 * model: backward
 * ==================================================================== */

void llama_zero_grad(struct llama *m)
{
    if (!m->grads) m->grads = xmalloc(m->nparams * sizeof *m->grads);
    memset(m->grads, 0, m->nparams * sizeof *m->grads);
}

/* The gradient tensor matching parameter i (the head shares the embedding's when tied). */
static float *grad_of(struct llama *m, enum llama_param i)
{
    if (i == LP_HEAD && m->cfg.tied) i = LP_EMBED;
    return m->grads + (m->p[i] - m->params);
}

static void zero(float *p, size_t n) { memset(p, 0, n * sizeof *p); }

void llama_backward(struct llama *m, float scale)
{
    struct acts *a = m->acts;
    if (!a || m->mean_loss < 0) die("llama_backward: the last forward pass had no targets");
    if (!m->grads) llama_zero_grad(m);
    const struct llama_config *c = &m->cfg;
    int B = a->B, T = a->T, N = B * T, C = c->dim, L = c->layers, V = c->vocab, F = c->hidden;
    int NH = c->heads, NKV = c->kv_heads, hs = llama_head_dim(c), QD = NH * hs, QKV = QD + 2 * NKV * hs;
    size_t NC = (size_t)N * C;
    float dloss = scale / N;    /* d(mean loss * scale) / d loss_n */

    /* head and final norm: logits = xnf Whead^T, xnf = rmsnorm(res[L]) g */
    zero(a->dxn, NC);
    if (m->plain) {
        float *dlogits = xcalloc((size_t)N * V, sizeof *dlogits), *lse = fbuf((size_t)N), *dl = fbuf((size_t)N);
        crossentropy_forward(dl, lse, m->logits, a->targets, N, V);   /* only for lse */
        for (int n = 0; n < N; n++) dl[n] = dloss;
        crossentropy_backward(dlogits, dl, m->logits, lse, a->targets, N, V);
        free(lse);
        free(dl);
        linear_backward(a->dxn, grad_of(m, LP_HEAD), NULL, dlogits, a->xnf, m->p[LP_HEAD], N, C, V);
        free(dlogits);
    } else {
        crossentropy_chunked_backward(a->dxn, grad_of(m, LP_HEAD), a->z, a->xnf, m->p[LP_HEAD], a->targets, dloss, N, C, V);
    }
    zero(a->dres, NC);
    rmsnorm_backward(a->dres, grad_of(m, LP_NORM), a->dxn, a->res + (size_t)L * NC, m->p[LP_NORM], a->rstdf, N, C);

    for (int l = L - 1; l >= 0; l--) {
        struct block b = block_of(m, a, l);
        const float *res = a->res + (size_t)l * NC;
        const float *g1 = m->p[LP_ATTN_NORM] + (size_t)l * C, *g2 = m->p[LP_MLP_NORM] + (size_t)l * C;
        size_t oqkv = (size_t)l * QKV * C, oo = (size_t)l * C * QD, ogu = (size_t)l * 2 * F * C, od = (size_t)l * C * F;
        if (a->recompute) {     /* rebuild this block's activations from res[l] */
            rmsnorm_forward(b.xn1, b.rstd1, res, g1, N, C, c->norm_eps);
            block_forward(m, a, l);
        }
        /* dres = d res[l+1].  forward: res[l+1] = h + act Wdown^T: d h = dres, d(mlp out) = dres */
        zero(a->dact, (size_t)N * F);
        linear_backward(a->dact, grad_of(m, LP_WDOWN) + od, NULL, a->dres, b.act, m->p[LP_WDOWN] + od, N, F, C);
        zero(a->dgu, (size_t)N * 2 * F);
        swiglu_backward(a->dgu, a->dact, b.gu, N, F);
        zero(a->dxn, NC);
        linear_backward(a->dxn, grad_of(m, LP_WGU) + ogu, NULL, a->dgu, b.hn, m->p[LP_WGU] + ogu, N, C, 2 * F);
        /* hn = rmsnorm(h) g2: its gradient joins the residual one, dres becomes d h */
        rmsnorm_backward(a->dres, grad_of(m, LP_MLP_NORM) + (size_t)l * C, a->dxn, b.h, g2, b.rstd2, N, C);
        /* h = res[l] + att Wo^T */
        zero(a->datt, (size_t)N * QD);
        linear_backward(a->datt, grad_of(m, LP_WO) + oo, NULL, a->dres, b.att, m->p[LP_WO] + oo, N, QD, C);
        zero(a->dqkv, (size_t)N * QKV);
        if (m->plain) attention_backward(a->dqkv, a->dprobs, a->datt, b.qkv, b.probs, B, T, NH, NKV, hs);
        else attention_tiled_backward(a->dqkv, a->datt, b.att, b.lse, b.qkv, B, T, NH, NKV, hs);
        rope_backward(a->dqkv, m->rope_cos, m->rope_sin, B, T, 0, NH, NKV, hs);
        zero(a->dxn, NC);
        linear_backward(a->dxn, grad_of(m, LP_WQKV) + oqkv, NULL, a->dqkv, b.xn1, m->p[LP_WQKV] + oqkv, N, C, QKV);
        /* xn1 = rmsnorm(res[l]) g1: dres becomes d res[l] */
        rmsnorm_backward(a->dres, grad_of(m, LP_ATTN_NORM) + (size_t)l * C, a->dxn, res, g1, b.rstd1, N, C);
        if (m->layer_done) m->layer_done(m->layer_ctx, l);
    }

    /* res[0][n] = embed[token n]  =>  dembed[token n] += dres[n].  Tokens
     * repeat, so threads split the columns, not the rows. */
    float *dE = grad_of(m, LP_EMBED);
    #pragma omp parallel
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int c0 = (int)((long)C * id / nt), c1 = (int)((long)C * (id + 1) / nt);
        for (int n = 0; n < N; n++) {
            float *d = dE + (size_t)a->inputs[n] * C;
            const float *s = a->dres + (size_t)n * C;
            for (int k = c0; k < c1; k++) d[k] += s[k];
        }
    }
}

/* The parameters as the optimizer's list (kernels/optim.h), the tied head
 * (no tensor of its own) left out; returns the count. */
static int optim_list(const struct llama *m, struct optim_tensor *ts)
{
    int k = 0;
    for (int i = 0; i < LLAMA_NPARAMS; i++) {
        size_t off = (size_t)(m->p[i] - m->params);
        if (!m->param_sizes[i]) continue;
        ts[k++] = (struct optim_tensor){ m->params + off, m->grads + off, m->m ? m->m + off : NULL,
                                         m->v ? m->v + off : NULL, m->param_sizes[i], llama_param_decays(i) };
    }
    return k;
}

int llama_optim_tensors(const struct llama *m, struct optim_tensor *ts)
{
    return optim_list(m, ts);
}

float llama_grad_norm(const struct llama *m)
{
    if (!m->grads) return 0;
    struct optim_tensor ts[LLAMA_NPARAMS];
    return grad_norm(ts, optim_list(m, ts));
}

void llama_adamw_step(struct llama *m, float lr, float beta1, float beta2, float eps,
                      float weight_decay, float grad_scale, int t)
{
    if (!m->grads) die("llama_adamw_step: no gradients (call llama_backward first)");
    if (!m->m) {
        m->m = xzalloc_written(m->nparams * sizeof *m->m);     /* read before written: */
        m->v = xzalloc_written(m->nparams * sizeof *m->v);     /* as gpt2_adamw_step */
    }
    struct optim_tensor ts[LLAMA_NPARAMS];
    adamw_step(ts, optim_list(m, ts), lr, beta1, beta2, eps, weight_decay, grad_scale, t);
}

/* ======================================================================
 * inference with a KV cache
 * ==================================================================== */

struct llama_kv {
    int len, context, L, KVD;
    float *k, *v;       /* (L, context, KVD) rotated keys, values */
    float *x;           /* (C) residual stream of the current token */
    float *xn;          /* (C) */
    float *qkv;         /* (QKV) */
    float *att;         /* (QD) */
    float *tmp;         /* (C) */
    float *gu;          /* (2F) */
    float *act;         /* (F) */
    float *scores;      /* (NH, context) attention's scratch */
    float *logits;      /* (V) */
};

struct llama_kv *llama_kv_new(const struct llama *m)
{
    const struct llama_config *c = &m->cfg;
    struct llama_kv *kv = xcalloc(1, sizeof *kv);
    size_t C = c->dim, hs = (size_t)llama_head_dim(c), QD = (size_t)c->heads * hs;
    kv->context = c->context;
    kv->L = c->layers;
    kv->KVD = (int)(c->kv_heads * hs);
    kv->k = fbuf((size_t)kv->L * kv->context * kv->KVD);
    kv->v = fbuf((size_t)kv->L * kv->context * kv->KVD);
    kv->x = fbuf(C);
    kv->xn = fbuf(C);
    kv->qkv = fbuf(QD + 2 * (size_t)kv->KVD);
    kv->att = fbuf(QD);
    kv->tmp = fbuf(C);
    kv->gu = fbuf(2 * (size_t)c->hidden);
    kv->act = fbuf(c->hidden);
    kv->scores = fbuf((size_t)c->heads * c->context);
    kv->logits = fbuf(c->vocab);
    return kv;
}

void llama_kv_free(struct llama_kv *kv)
{
    if (!kv) return;
    float *bufs[] = { kv->k, kv->v, kv->x, kv->xn, kv->qkv, kv->att, kv->tmp, kv->gu, kv->act,
                      kv->scores, kv->logits };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(kv);
}

void llama_kv_reset(struct llama_kv *kv) { kv->len = 0; }
int llama_kv_len(const struct llama_kv *kv) { return kv->len; }

const float *llama_kv_step(struct llama *m, struct llama_kv *kv, uint32_t token)
{
    const struct llama_config *c = &m->cfg;
    int C = c->dim, F = c->hidden, NH = c->heads, NKV = c->kv_heads, hs = llama_head_dim(c), KVD = NKV * hs;
    int QD = NH * hs, QKV = QD + 2 * KVD, pos = kv->len;
    float rstd, eps = c->norm_eps;
    if (pos >= kv->context) die("llama_kv_step: context of %d tokens is full", kv->context);
    if (token >= (uint32_t)c->vocab) die("token id %u out of range for vocabulary %d", token, c->vocab);
    memcpy(kv->x, m->p[LP_EMBED] + (size_t)token * C, (size_t)C * sizeof(float));
    for (int l = 0; l < c->layers; l++) {
        float *K = kv->k + (size_t)l * kv->context * KVD, *Vc = kv->v + (size_t)l * kv->context * KVD;
        rmsnorm_forward(kv->xn, &rstd, kv->x, m->p[LP_ATTN_NORM] + (size_t)l * C, 1, C, eps);
        linear_forward(kv->qkv, kv->xn, m->p[LP_WQKV] + (size_t)l * QKV * C, NULL, 1, C, QKV);
        rope_forward(kv->qkv, m->rope_cos, m->rope_sin, 1, 1, pos, NH, NKV, hs);   /* at this position */
        memcpy(K + (size_t)pos * KVD, kv->qkv + QD, (size_t)KVD * sizeof(float));
        memcpy(Vc + (size_t)pos * KVD, kv->qkv + QD + KVD, (size_t)KVD * sizeof(float));
        attention_step(kv->att, kv->scores, kv->qkv, K, Vc, pos + 1, NH, NKV, hs);
        linear_forward(kv->tmp, kv->att, m->p[LP_WO] + (size_t)l * C * QD, NULL, 1, QD, C);
        residual_rmsnorm_forward(kv->x, kv->xn, &rstd, kv->x, kv->tmp, m->p[LP_MLP_NORM] + (size_t)l * C, 1, C, eps);
        linear_forward(kv->gu, kv->xn, m->p[LP_WGU] + (size_t)l * 2 * F * C, NULL, 1, C, 2 * F);
        swiglu_forward(kv->act, kv->gu, 1, F);
        linear_forward(kv->tmp, kv->act, m->p[LP_WDOWN] + (size_t)l * C * F, NULL, 1, F, C);
        for (int i = 0; i < C; i++) kv->x[i] += kv->tmp[i];
    }
    rmsnorm_forward(kv->xn, &rstd, kv->x, m->p[LP_NORM], 1, C, eps);
    linear_forward(kv->logits, kv->xn, m->p[LP_HEAD], NULL, 1, C, c->vocab);
    kv->len++;
    return kv->logits;
}

const float *llama_kv_prefill(struct llama *m, struct llama_kv *kv, const uint32_t *tokens, int n)
{
    const struct llama_config *c = &m->cfg;
    int V = c->vocab, hs = llama_head_dim(c), QD = c->heads * hs, KVD = c->kv_heads * hs, QKV = QD + 2 * KVD;
    if (kv->len || n < 1 || n > kv->context)
        die("llama_kv_prefill: %d tokens into a cache holding %d of %d", n, kv->len, kv->context);
    /* one forward pass over positions 0 .. n-1 (every layer's activations
     * kept: no recompute); its rotated k and v rows are the cache's */
    int recompute = m->recompute;
    m->recompute = 0;
    llama_forward(m, tokens, NULL, 1, n);
    m->recompute = recompute;
    for (int l = 0; l < c->layers; l++) {
        const float *qkv = llama_layer_qkv(m, l);      /* (n, QKV): [q | k | v] */
        float *K = kv->k + (size_t)l * kv->context * KVD, *Vc = kv->v + (size_t)l * kv->context * KVD;
        for (int t = 0; t < n; t++) {
            memcpy(K + (size_t)t * KVD, qkv + (size_t)t * QKV + QD, (size_t)KVD * sizeof(float));
            memcpy(Vc + (size_t)t * KVD, qkv + (size_t)t * QKV + QD + KVD, (size_t)KVD * sizeof(float));
        }
    }
    kv->len = n;
    memcpy(kv->logits, m->logits + (size_t)(n - 1) * V, (size_t)V * sizeof(float));
    return kv->logits;
}
