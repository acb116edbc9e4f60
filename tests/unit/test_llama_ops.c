/* test_llama_ops.c - every backward of lib/llama/llama_ops.c and
 * lib/kernels/attention.c against central
 * finite differences in double precision, and every optimised layer against
 * its plain version.  (The plain softmax + cross-entropy and the linear
 * layer belong to the custom level and are checked in test_ops.)
 *
 * The double versions come from compiling lib/llama/llama_ops.c (and the
 * shared kernels it relies on: kernels/attention.c, ops_loss.c and optim.c)
 * a second time right here with real = double and names suffixed _f64.  For an op
 * y = f(x1, x2, ...) the checked scalar is S = sum(y * R) for a fixed random
 * R: the backward is called with dy = R, and each dS/dx[i] is compared with
 *   (S(x + h e_i) - S(x - h e_i)) / 2h,   h = 1e-6,
 * failing when |num - ana| > 1e-7 + 1e-6 |num|.
 */
#define OPS_REAL double
#define OPS(name) name##_f64
#define OPS_GEMM cblas_dgemm
#include "llama/llama_ops.c"
#include "kernels/attention.c"
#include "kernels/ops_loss.c"   /* the chunked cross-entropy and its projection */
#include "kernels/optim.c"      /* adamw_update */

#include "llama/llama_ops.h"
#include "kernels/ops.h"
#include "core/rng.h"
#include "unit.h"

static struct rng R;

static double *drand_buf(size_t n, double sd)
{
    double *p = xmalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = sd * rng_normal(&R);
    return p;
}

static double *dzeros(size_t n) { return xcalloc(n, sizeof(double)); }

static double dsum_prod(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- the generic checker ---- */

struct gc_input { const char *name; double *x; const double *grad; size_t n; };

static void gradcheck(const char *op, double (*S)(void *), void *ctx, struct gc_input *in, int nin)
{
    const double h = 1e-6;
    for (int k = 0; k < nin; k++) {
        double maxerr = 0, maxg = 0;
        int bad = 0;
        for (size_t i = 0; i < in[k].n; i++) {
            double save = in[k].x[i];
            in[k].x[i] = save + h; double sp = S(ctx);
            in[k].x[i] = save - h; double sm = S(ctx);
            in[k].x[i] = save;
            double num = (sp - sm) / (2 * h), err = fabs(num - in[k].grad[i]);
            if (err > maxerr) maxerr = err;
            if (fabs(num) > maxg) maxg = fabs(num);
            if (err > 1e-7 + 1e-6 * fabs(num)) bad++;
        }
        printf("# %-18s d%-6s max |num - ana| = %.3g (max |grad| %.3g)%s\n", op, in[k].name, maxerr, maxg,
               bad ? "  FAIL" : "");
        CHECK(bad == 0);
        CHECK(maxg > 0);    /* a check of all-zero gradients would prove nothing */
    }
}

/* ---- projection ---- */

struct proj_ctx { double *x, *W, *y, *r; int N, Din, Dout; };

static double proj_S(void *p)
{
    struct proj_ctx *c = p;
    proj_forward_f64(c->y, c->x, c->W, c->N, c->Din, c->Dout);
    return dsum_prod(c->y, c->r, (size_t)c->N * c->Dout);
}

TEST(proj_gradcheck)
{
    struct proj_ctx c = { .N = 5, .Din = 4, .Dout = 3 };
    c.x = drand_buf(20, 1); c.W = drand_buf(12, 1); c.y = dzeros(15); c.r = drand_buf(15, 1);
    double *dx = dzeros(20), *dW = dzeros(12);
    proj_backward_f64(dx, dW, c.r, c.x, c.W, c.N, c.Din, c.Dout);
    struct gc_input in[] = { {"x", c.x, dx, 20}, {"W", c.W, dW, 12} };
    gradcheck("proj", proj_S, &c, in, 2);
    free(c.x); free(c.W); free(c.y); free(c.r); free(dx); free(dW);
}

/* ---- RMSNorm ---- */

struct norm_ctx { double *x, *g, *y, *rstd, *r; int N, C; };

static double norm_S(void *p)
{
    struct norm_ctx *c = p;
    rmsnorm_forward_f64(c->y, c->rstd, c->x, c->g, c->N, c->C, 1e-5);
    return dsum_prod(c->y, c->r, (size_t)c->N * c->C);
}

TEST(rmsnorm_gradcheck)
{
    struct norm_ctx c = { .N = 4, .C = 7 };
    size_t n = 28;
    c.x = drand_buf(n, 1); c.g = drand_buf(7, 1); c.y = dzeros(n); c.rstd = dzeros(4); c.r = drand_buf(n, 1);
    norm_S(&c);
    double *dx = dzeros(n), *dg = dzeros(7);
    rmsnorm_backward_f64(dx, dg, c.r, c.x, c.g, c.rstd, c.N, c.C);
    struct gc_input in[] = { {"x", c.x, dx, n}, {"g", c.g, dg, 7} };
    gradcheck("rmsnorm", norm_S, &c, in, 2);
    free(c.x); free(c.g); free(c.y); free(c.rstd); free(c.r); free(dx); free(dg);
}

TEST(residual_rmsnorm_fused_matches_plain)
{
    int N = 37, C = 19;
    size_t n = (size_t)N * C;
    double *x = drand_buf(n, 1), *d = drand_buf(n, 1), *g = drand_buf(C, 1);
    double *xo = dzeros(n), *y = dzeros(n), *rs = dzeros(N), *xo2 = dzeros(n), *y2 = dzeros(n), *rs2 = dzeros(N);
    residual_rmsnorm_forward_f64(xo, y, rs, x, d, g, N, C, 1e-5);
    for (size_t i = 0; i < n; i++) xo2[i] = x[i] + d[i];
    rmsnorm_forward_f64(y2, rs2, xo2, g, N, C, 1e-5);
    double e = 0;
    for (size_t i = 0; i < n; i++) e = fmax(e, fmax(fabs(xo[i] - xo2[i]), fabs(y[i] - y2[i])));
    CHECK(e == 0);
    free(x); free(d); free(g); free(xo); free(y); free(rs); free(xo2); free(y2); free(rs2);
}

/* ---- rotary embedding ---- */

struct rope_ctx { double *x, *y, *r, *cs, *sn; int B, T, NH, NKV, hs; size_t n; };

static double rope_S(void *p)
{
    struct rope_ctx *c = p;
    memcpy(c->y, c->x, c->n * sizeof *c->y);
    rope_forward_f64(c->y, c->cs, c->sn, c->B, c->T, 2, c->NH, c->NKV, c->hs);
    return dsum_prod(c->y, c->r, c->n);
}

TEST(rope_gradcheck_and_convention)
{
    struct rope_ctx c = { .B = 2, .T = 3, .NH = 2, .NKV = 1, .hs = 4 };
    c.n = (size_t)c.B * c.T * (c.NH + 2 * c.NKV) * c.hs;
    c.x = drand_buf(c.n, 1); c.y = dzeros(c.n); c.r = drand_buf(c.n, 1);
    c.cs = dzeros(8 * 2); c.sn = dzeros(8 * 2);
    rope_tables_f64(c.cs, c.sn, 8, c.hs, 10000);
    double *dx = xmalloc(c.n * sizeof *dx);
    memcpy(dx, c.r, c.n * sizeof *dx);
    rope_backward_f64(dx, c.cs, c.sn, c.B, c.T, 2, c.NH, c.NKV, c.hs);
    struct gc_input in[] = { {"qkv", c.x, dx, c.n} };
    gradcheck("rope", rope_S, &c, in, 1);
    /* HF convention, written out for row (b=1, t=2) -> position 4, q head 1:
     * out = x cos + rotate_half(x) sin, rotate_half([x1, x2]) = [-x2, x1],
     * angle_i = pos / 10000^(2i/hs) for i < hs/2, repeated for the 2nd half. */
    rope_S(&c);
    size_t row = (size_t)(1 * 3 + 2) * 16 + 4;
    for (int d = 0; d < 4; d++) {
        int i = d % 2;
        double a = 4 / pow(10000.0, 2.0 * i / 4), rh = d < 2 ? -c.x[row + d + 2] : c.x[row + d - 2];
        CHECK_NEAR(c.y[row + d], c.x[row + d] * cos(a) + rh * sin(a), 1e-12);
    }
    /* v is not rotated */
    for (int d = 0; d < 4; d++) CHECK(c.y[(size_t)16 * 5 + 12 + d] == c.x[(size_t)16 * 5 + 12 + d]);
    free(c.x); free(c.y); free(c.r); free(c.cs); free(c.sn); free(dx);
}

/* ---- SwiGLU ---- */

struct swiglu_ctx { double *gu, *act, *r; int N, F; };

static double swiglu_S(void *p)
{
    struct swiglu_ctx *c = p;
    swiglu_forward_f64(c->act, c->gu, c->N, c->F);
    return dsum_prod(c->act, c->r, (size_t)c->N * c->F);
}

TEST(swiglu_gradcheck)
{
    struct swiglu_ctx c = { .N = 3, .F = 5 };
    c.gu = drand_buf(30, 2); c.act = dzeros(15); c.r = drand_buf(15, 1);
    double *dgu = dzeros(30);
    swiglu_backward_f64(dgu, c.r, c.gu, c.N, c.F);
    struct gc_input in[] = { {"gu", c.gu, dgu, 30} };
    gradcheck("swiglu", swiglu_S, &c, in, 1);
    /* silu(g) u, spelled out once */
    swiglu_S(&c);
    CHECK_NEAR(c.act[7], c.gu[12] / (1 + exp(-c.gu[12])) * c.gu[17], 1e-15);
    free(c.gu); free(c.act); free(c.r); free(dgu);
}

/* ---- attention ---- */

struct att_ctx { double *qkv, *out, *aux, *r; int B, T, NH, NKV, hs, plain; };

static double att_S(void *p)
{
    struct att_ctx *c = p;
    if (c->plain) attention_forward_f64(c->out, c->aux, c->qkv, c->B, c->T, c->NH, c->NKV, c->hs);
    else attention_tiled_forward_f64(c->out, c->aux, c->qkv, c->B, c->T, c->NH, c->NKV, c->hs);
    return dsum_prod(c->out, c->r, (size_t)c->B * c->T * c->NH * c->hs);
}

static void att_check(int plain, int B, int T, int NH, int NKV, int hs)
{
    struct att_ctx c = { .B = B, .T = T, .NH = NH, .NKV = NKV, .hs = hs, .plain = plain };
    size_t n = (size_t)B * T * (NH + 2 * NKV) * hs, no = (size_t)B * T * NH * hs;
    c.qkv = drand_buf(n, 1); c.out = dzeros(no); c.r = drand_buf(no, 1);
    c.aux = dzeros(plain ? (size_t)B * NH * T * T : (size_t)B * NH * T);
    att_S(&c);
    double *dqkv = dzeros(n);
    double *scratch = plain ? dzeros((size_t)B * NH * T * T) : NULL;
    if (plain) attention_backward_f64(dqkv, scratch, c.r, c.qkv, c.aux, B, T, NH, NKV, hs);
    else attention_tiled_backward_f64(dqkv, c.r, c.out, c.aux, c.qkv, B, T, NH, NKV, hs);
    struct gc_input in[] = { {"qkv", c.qkv, dqkv, n} };
    gradcheck(plain ? "attention plain" : "attention flash", att_S, &c, in, 1);
    free(c.qkv); free(c.out); free(c.r); free(c.aux); free(dqkv); free(scratch);
}

/* T = 70 spans two key tiles of 64; NH = 4 over NKV = 2 is grouped-query. */
TEST(attention_flash_gradcheck) { att_check(0, 1, 70, 4, 2, 4); att_check(0, 2, 5, 2, 2, 2); }
TEST(attention_plain_gradcheck) { att_check(1, 2, 6, 4, 2, 4); }

/* The optimised (float) kernel against the plain (float) one: outputs and
 * gradients, on a size with several key tiles. */
TEST(attention_flash_matches_plain)
{
    int B = 2, T = getenv("TFS_ASAN") ? 80 : 200, NH = 4, NKV = 2, hs = 16;
    size_t n = (size_t)B * T * (NH + 2 * NKV) * hs, no = (size_t)B * T * NH * hs;
    float *qkv = xmalloc(n * sizeof *qkv), *r = xmalloc(no * sizeof *r);
    for (size_t i = 0; i < n; i++) qkv[i] = (float)rng_normal(&R);
    for (size_t i = 0; i < no; i++) r[i] = (float)rng_normal(&R);
    float *o1 = xcalloc(no, 4), *o2 = xcalloc(no, 4), *lse = xcalloc((size_t)B * NH * T, 4);
    float *att = xcalloc((size_t)B * NH * T * T, 4), *d1 = xcalloc(n, 4), *d2 = xcalloc(n, 4);
    float *scratch = xcalloc((size_t)B * NH * T * T, 4);
    attention_tiled_forward(o1, lse, qkv, B, T, NH, NKV, hs);
    attention_forward(o2, att, qkv, B, T, NH, NKV, hs);
    attention_tiled_backward(d1, r, o1, lse, qkv, B, T, NH, NKV, hs);
    attention_backward(d2, scratch, r, qkv, att, B, T, NH, NKV, hs);
    double eo = 0, ed = 0, md = 0;
    for (size_t i = 0; i < no; i++) eo = fmax(eo, fabs(o1[i] - o2[i]));
    for (size_t i = 0; i < n; i++) { ed = fmax(ed, fabs(d1[i] - d2[i])); md = fmax(md, fabs(d2[i])); }
    printf("# flash vs plain attention: max |dout| %.3g, max |dqkv| %.3g (max %.3g)\n", eo, ed, md);
    CHECK(eo < 1e-5);
    CHECK(ed < 1e-5 * md);
    free(qkv); free(r); free(o1); free(o2); free(lse); free(att); free(d1); free(d2); free(scratch);
}

/* tfs-eval --attention's probabilities (attention_probs) are the P that
 * the plain forward keeps, bit for bit apart from summation order: causal
 * rows summing to 1, grouped-query heads reading their kv head. */
TEST(attention_probs_match_forward)
{
    int T = 37, NH = 4, NKV = 2, hs = 8;
    size_t n = (size_t)T * (NH + 2 * NKV) * hs, nt = (size_t)NH * T * T;
    float *qkv = xmalloc(n * sizeof *qkv);
    for (size_t i = 0; i < n; i++) qkv[i] = (float)rng_normal(&R);
    float *out = xcalloc((size_t)T * NH * hs, 4), *att = xcalloc(nt, 4), *P = xcalloc(nt, 4);
    attention_forward(out, att, qkv, 1, T, NH, NKV, hs);
    attention_probs(P, qkv, T, NH, NKV, hs);
    double e = 0, erow = 0;
    int upper = 0;
    for (size_t i = 0; i < nt; i++) e = fmax(e, fabs(P[i] - att[i]));
    for (int h = 0; h < NH; h++)
        for (int i = 0; i < T; i++) {
            double s = 0;
            for (int j = 0; j < T; j++) {
                float p = P[((size_t)h * T + i) * T + j];
                s += p;
                if (j > i && p != 0) upper++;
            }
            erow = fmax(erow, fabs(s - 1));
        }
    CHECK(e < 1e-6);
    CHECK(erow < 1e-5);
    CHECK(upper == 0);
    /* and the heads of one kv head differ (their queries do) */
    CHECK(fabs(P[(size_t)T * T + T + 1] - P[T + 1]) > 0);
    free(qkv); free(out); free(att); free(P);
}

/* ---- cross-entropy ---- */

struct ce_ctx { double *x, *W, *losses, *z; uint32_t *y; int N, C, V; };

static double ce_S(void *p)
{
    struct ce_ctx *c = p;
    crossentropy_chunked_forward_f64(c->losses, c->z, c->x, c->W, c->y, c->N, c->C, c->V);
    double s = 0;
    for (int n = 0; n < c->N; n++) s += c->losses[n];
    return s * 0.5;     /* dloss = 0.5 */
}

TEST(crossentropy_gradcheck)
{
    /* chunked: N = 300 rows is two chunks */
    struct ce_ctx c = { .N = 300, .C = 3, .V = 5 };
    c.x = drand_buf(900, 1); c.W = drand_buf(15, 1); c.losses = dzeros(300); c.z = dzeros(CE_CHUNK * 5);
    c.y = xmalloc(300 * sizeof *c.y);
    for (int n = 0; n < 300; n++) c.y[n] = (uint32_t)rng_below(&R, 5);
    double *dx = dzeros(900), *dW = dzeros(15);
    crossentropy_chunked_backward_f64(dx, dW, c.z, c.x, c.W, c.y, 0.5, c.N, c.C, c.V);
    struct gc_input in[] = { {"x", c.x, dx, 900}, {"W", c.W, dW, 15} };
    gradcheck("ce chunked", ce_S, &c, in, 2);
    free(c.x); free(c.W); free(c.losses); free(c.z); free(c.y); free(dx); free(dW);
}

TEST(crossentropy_chunked_matches_plain)
{
    int N = 600, C = 32, V = 97;
    float *x = xmalloc((size_t)N * C * 4), *W = xmalloc((size_t)V * C * 4);
    for (int i = 0; i < N * C; i++) x[i] = (float)rng_normal(&R);
    for (int i = 0; i < V * C; i++) W[i] = (float)(0.3 * rng_normal(&R));
    uint32_t *y = xmalloc((size_t)N * 4);
    for (int n = 0; n < N; n++) y[n] = (uint32_t)rng_below(&R, (uint64_t)V);
    float *l1 = xcalloc(N, 4), *l2 = xcalloc(N, 4), *z = xcalloc((size_t)N * V, 4), *dz = xcalloc((size_t)N * V, 4);
    float *dx1 = xcalloc((size_t)N * C, 4), *dx2 = xcalloc((size_t)N * C, 4), *dW1 = xcalloc((size_t)V * C, 4), *dW2 = xcalloc((size_t)V * C, 4);
    float *zc = xmalloc((size_t)CE_CHUNK * V * 4);
    crossentropy_chunked_forward(l1, zc, x, W, y, N, C, V);
    crossentropy_chunked_backward(dx1, dW1, zc, x, W, y, 1.0f / N, N, C, V);
    free(zc);
    /* the plain path: whole logits, the custom level's softmax + cross-entropy */
    float *lse = xmalloc((size_t)N * 4), *dl = xmalloc((size_t)N * 4);
    for (int n = 0; n < N; n++) dl[n] = 1.0f / N;
    linear_forward(z, x, W, NULL, N, C, V);
    crossentropy_forward(l2, lse, z, y, N, V);
    crossentropy_backward(dz, dl, z, lse, y, N, V);
    linear_backward(dx2, dW2, NULL, dz, x, W, N, C, V);
    free(lse); free(dl);
    double el = 0, ex = 0, eW = 0;
    for (int n = 0; n < N; n++) el = fmax(el, fabs(l1[n] - l2[n]));
    for (int i = 0; i < N * C; i++) ex = fmax(ex, fabs(dx1[i] - dx2[i]));
    for (int i = 0; i < V * C; i++) eW = fmax(eW, fabs(dW1[i] - dW2[i]));
    printf("# chunked vs plain cross-entropy: loss %.3g dx %.3g dW %.3g\n", el, ex, eW);
    CHECK(el < 1e-5); CHECK(ex < 1e-7); CHECK(eW < 1e-6);
    free(x); free(W); free(y); free(l1); free(l2); free(z); free(dz); free(dx1); free(dx2); free(dW1); free(dW2);
}

/* ---- AdamW: two steps against the formula, element by element ---- */

TEST(adamw_matches_formula)
{
    double p[3] = {0.5, -1, 2}, g[3] = {0.1, -0.2, 0.3}, m[3] = {0}, v[3] = {0}, q[3];
    memcpy(q, p, sizeof q);
    double mm[3] = {0}, vv[3] = {0};
    for (int t = 1; t <= 2; t++) {
        adamw_update_f64(p, g, m, v, 3, 0.01, 0.9, 0.95, 1e-8, 0.1, 0.5, t);
        for (int i = 0; i < 3; i++) {
            double gi = g[i] * 0.5;
            mm[i] = 0.9 * mm[i] + 0.1 * gi;
            vv[i] = 0.95 * vv[i] + 0.05 * gi * gi;
            double mh = mm[i] / (1 - pow(0.9, t)), vh = vv[i] / (1 - pow(0.95, t));
            q[i] = q[i] * (1 - 0.01 * 0.1) - 0.01 * mh / (sqrt(vh) + 1e-8);
        }
    }
    for (int i = 0; i < 3; i++) CHECK_NEAR(p[i], q[i], 1e-15);
}

int main(void)
{
    rng_seed(&R, 42);
    RUN(proj_gradcheck);
    RUN(rmsnorm_gradcheck);
    RUN(residual_rmsnorm_fused_matches_plain);
    RUN(rope_gradcheck_and_convention);
    RUN(swiglu_gradcheck);
    RUN(attention_flash_gradcheck);
    RUN(attention_plain_gradcheck);
    RUN(attention_flash_matches_plain);
    RUN(attention_probs_match_forward);
    RUN(crossentropy_gradcheck);
    RUN(crossentropy_chunked_matches_plain);
    RUN(adamw_matches_formula);
    return unit_summary();
}
