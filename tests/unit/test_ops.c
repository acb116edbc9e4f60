/* test_ops.c - every layer of lib/kernels/ (ops_*.c, attention.c): the forward pass against a
 * direct double-precision evaluation of its formula, and the backward pass
 * against central finite differences.
 *
 * Gradient check: each op's output `out` is reduced to a scalar
 *     L = sum_i r[i] * out[i]          (r random, accumulated in double)
 * so that dL/dout = r.  For every element x of every input tensor,
 *     g_num = (L(x + h) - L(x - h)) / (x+h - x-h)      (double)
 * and the backward pass, given dout = r, must give g_ana with
 *     |g_num - g_ana| <= atol + rtol * |g_num|.
 * The ops compute in float: L carries a rounding error of about 1e-7 |L|,
 * which the difference quotient divides by 2h.  With inputs of scale 1,
 * h = 1e-2 keeps that noise near 1e-5, while the truncation error of the
 * central difference, h^2/6 times a third derivative, stays about as small.  Then the backward pass runs a second time into the same
 * buffers: the gradients must double, since backward accumulates (+=).
 * Each tensor's max error is printed, and any failure fails the test.
 */
#include "unit.h"
#include "kernels/ops.h"
#include "kernels/fastmath.h"
#include "core/rng.h"
#include "core/xio.h"

#include <stdint.h>

static struct rng R;

static float *randn(size_t n, float scale)
{
    float *p = xmalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)(rng_normal(&R) * scale);
    return p;
}
static float *zeros(size_t n) { return xcalloc(n, sizeof(float)); }

/* The op under test: run the forward pass and return L = sum r * out. */
static double (*loss_fn)(void);
static const float *r_out;      /* (n_out) projection */
static size_t n_out;
static double project(const float *out)
{
    double L = 0;
    for (size_t i = 0; i < n_out; i++) L += (double)r_out[i] * out[i];
    return L;
}

/* Step and tolerances (see the top of the file). */
#define H 1e-2
#define ATOL 1e-4
#define RTOL 2e-3

struct input { const char *name; float *x, *g; size_t n; };

static void gradcheck(const char *op, struct input *in, int nin, void (*backward)(void),
                      double h, double atol, double rtol)
{
    for (int k = 0; k < nin; k++) memset(in[k].g, 0, in[k].n * sizeof(float));
    backward();
    for (int k = 0; k < nin; k++) {
        double maxerr = 0, maxg = 0;
        int bad = 0;
        for (size_t i = 0; i < in[k].n; i++) {
            float v = in[k].x[i], xp = (float)(v + h), xm = (float)(v - h);
            in[k].x[i] = xp; double Lp = loss_fn();
            in[k].x[i] = xm; double Lm = loss_fn();
            in[k].x[i] = v;
            double num = (Lp - Lm) / ((double)xp - xm), ana = in[k].g[i], err = fabs(num - ana);
            if (err > maxerr) maxerr = err;
            if (fabs(num) > maxg) maxg = fabs(num);
            if (err > atol + rtol * fabs(num)) {
                if (bad++ < 3) fprintf(stderr, "  %s d%s[%zu]: numeric %.6g, backward %.6g\n", op, in[k].name, i, num, ana);
            }
        }
        printf("# %-12s d%-5s max |num - ana| = %.3g (max |grad| %.3g)\n", op, in[k].name, maxerr, maxg);
        CHECK(bad == 0);
    }
    /* Accumulation: a second backward pass adds the same gradient again
     * (after a fresh forward pass: the finite differences left the saved
     * activations of a perturbed input behind). */
    loss_fn();
    float **first = xmalloc((size_t)nin * sizeof *first);
    for (int k = 0; k < nin; k++) {
        first[k] = xmalloc(in[k].n * sizeof(float));
        memcpy(first[k], in[k].g, in[k].n * sizeof(float));
    }
    backward();
    for (int k = 0; k < nin; k++) {
        int bad = 0;
        float gmax = 0;
        for (size_t i = 0; i < in[k].n; i++) gmax = fmaxf(gmax, fabsf(first[k][i]));
        for (size_t i = 0; i < in[k].n; i++)
            if (fabsf(in[k].g[i] - 2 * first[k][i]) > 1e-6f * (1 + gmax)) bad++;
        if (bad) fprintf(stderr, "  %s d%s: a second backward pass did not add (%d elements)\n", op, in[k].name, bad);
        CHECK(bad == 0);
        free(first[k]);
    }
    free(first);
}

/* ---- embedding ---- */
enum { EB = 2, ET = 3, EC = 5, EV = 4 };
static uint32_t e_inp[EB * ET] = {1, 3, 1, 0, 1, 2};    /* token 1 three times */
static float *e_wte, *e_wpe, *e_out, *e_dwte, *e_dwpe;
static double e_loss(void) { embedding_forward(e_out, e_inp, e_wte, e_wpe, EB, ET, EC); return project(e_out); }
static void e_back(void) { embedding_backward(e_dwte, e_dwpe, r_out, e_inp, EB, ET, EC); }

TEST(embedding)
{
    e_wte = randn(EV * EC, 1); e_wpe = randn(ET * EC, 1);
    e_out = zeros(EB * ET * EC); e_dwte = zeros(EV * EC); e_dwpe = zeros(ET * EC);
    n_out = EB * ET * EC; r_out = randn(n_out, 1); loss_fn = e_loss;
    e_loss();
    for (int n = 0; n < EB * ET; n++)
        for (int c = 0; c < EC; c++)
            CHECK(e_out[n * EC + c] == e_wte[e_inp[n] * EC + c] + e_wpe[(n % ET) * EC + c]);
    struct input in[] = {{"wte", e_wte, e_dwte, EV * EC}, {"wpe", e_wpe, e_dwpe, ET * EC}};
    gradcheck("embedding", in, 2, e_back, H, ATOL, RTOL);
    free(e_wte); free(e_wpe); free(e_out); free(e_dwte); free(e_dwpe); free((void *)r_out);
}

/* ---- layernorm ---- */
enum { LN = 3, LC = 8 };
static float *l_x, *l_w, *l_b, *l_out, *l_mean, *l_rstd, *l_dx, *l_dw, *l_db;
static double l_loss(void) { layernorm_forward(l_out, l_mean, l_rstd, l_x, l_w, l_b, LN, LC); return project(l_out); }
static void l_back(void) { layernorm_backward(l_dx, l_dw, l_db, r_out, l_x, l_w, l_mean, l_rstd, LN, LC); }

TEST(layernorm)
{
    l_x = randn(LN * LC, 1); l_w = randn(LC, 1); l_b = randn(LC, 1);
    for (int i = 0; i < LC; i++) l_x[i] += 3;          /* a row with a large mean */
    l_out = zeros(LN * LC); l_mean = zeros(LN); l_rstd = zeros(LN);
    l_dx = zeros(LN * LC); l_dw = zeros(LC); l_db = zeros(LC);
    n_out = LN * LC; r_out = randn(n_out, 1); loss_fn = l_loss;
    l_loss();
    for (int n = 0; n < LN; n++) {         /* the definition, in double */
        double m = 0, v = 0;
        for (int c = 0; c < LC; c++) m += l_x[n * LC + c];
        m /= LC;
        for (int c = 0; c < LC; c++) v += (l_x[n * LC + c] - m) * (l_x[n * LC + c] - m);
        v /= LC;
        for (int c = 0; c < LC; c++)
            CHECK_NEAR(l_out[n * LC + c], (l_x[n * LC + c] - m) / sqrt(v + 1e-5) * l_w[c] + l_b[c], 1e-5);
    }
    struct input in[] = {{"inp", l_x, l_dx, LN * LC}, {"w", l_w, l_dw, LC}, {"b", l_b, l_db, LC}};
    gradcheck("layernorm", in, 3, l_back, H, ATOL, RTOL);
    free(l_x); free(l_w); free(l_b); free(l_out); free(l_mean); free(l_rstd);
    free(l_dx); free(l_dw); free(l_db); free((void *)r_out);
}

/* ---- linear ---- */
enum { MN = 4, MC = 5, MOC = 3 };
static float *m_x, *m_W, *m_b, *m_out, *m_dx, *m_dW, *m_db;
static int m_bias;
static double m_loss(void) { linear_forward(m_out, m_x, m_W, m_bias ? m_b : NULL, MN, MC, MOC); return project(m_out); }
static void m_back(void) { linear_backward(m_dx, m_dW, m_bias ? m_db : NULL, r_out, m_x, m_W, MN, MC, MOC); }

TEST(linear)
{
    m_x = randn(MN * MC, 1); m_W = randn(MOC * MC, 1); m_b = randn(MOC, 1);
    m_out = zeros(MN * MOC); m_dx = zeros(MN * MC); m_dW = zeros(MOC * MC); m_db = zeros(MOC);
    n_out = MN * MOC; r_out = randn(n_out, 1); loss_fn = m_loss;
    for (m_bias = 1; m_bias >= 0; m_bias--) {
        m_loss();
        for (int n = 0; n < MN; n++)
            for (int o = 0; o < MOC; o++) {
                double s = m_bias ? m_b[o] : 0;
                for (int c = 0; c < MC; c++) s += (double)m_x[n * MC + c] * m_W[o * MC + c];
                CHECK_NEAR(m_out[n * MOC + o], s, 1e-5);
            }
        struct input in[] = {{"inp", m_x, m_dx, MN * MC}, {"W", m_W, m_dW, MOC * MC}, {"b", m_b, m_db, MOC}};
        gradcheck(m_bias ? "linear" : "linear-nob", in, m_bias ? 3 : 2, m_back, H, ATOL, RTOL);
    }
    /* added to a residual stream (gpt2.c's fast path): out = res + (x W^T + b),
     * apart and in place (out == res) */
    float *res = randn(MN * MOC, 1), *sum = zeros(MN * MOC), *inplace = xmalloc(MN * MOC * sizeof *inplace);
    memcpy(inplace, res, MN * MOC * sizeof *inplace);
    linear_forward(m_out, m_x, m_W, m_b, MN, MC, MOC);
    linear_forward_residual(sum, res, m_x, m_W, m_b, MN, MC, MOC);
    linear_forward_residual(inplace, inplace, m_x, m_W, m_b, MN, MC, MOC);
    for (int i = 0; i < MN * MOC; i++) {
        CHECK_NEAR(sum[i], res[i] + m_out[i], 1e-5);
        CHECK(inplace[i] == sum[i]);
    }
    free(res); free(sum); free(inplace);
    free(m_x); free(m_W); free(m_b); free(m_out); free(m_dx); free(m_dW); free(m_db); free((void *)r_out);
}

/* ---- attention ---- */
enum { AB = 2, AT = 5, AC = 8, ANH = 2 };
static float *a_qkv, *a_out, *a_att, *a_dqkv, *a_scratch;
static double a_loss(void) { attention_forward(a_out, a_att, a_qkv, AB, AT, ANH, ANH, AC / ANH); return project(a_out); }
static void a_back(void) { attention_backward(a_dqkv, a_scratch, r_out, a_qkv, a_att, AB, AT, ANH, ANH, AC / ANH); }

TEST(attention)
{
    int hs = AC / ANH;
    a_qkv = randn(AB * AT * 3 * AC, 1); a_out = zeros(AB * AT * AC); a_att = zeros(AB * ANH * AT * AT);
    a_dqkv = zeros(AB * AT * 3 * AC); a_scratch = zeros(AB * ANH * AT * AT);
    n_out = AB * AT * AC; r_out = randn(n_out, 1); loss_fn = a_loss;
    a_loss();
    /* The definition, in double: out[b,t,h] = sum_{j<=t} softmax_j(q.k_j / sqrt(hs)) v_j */
    for (int b = 0; b < AB; b++)
        for (int h = 0; h < ANH; h++)
            for (int t = 0; t < AT; t++) {
                const float *q = a_qkv + (b * AT + t) * 3 * AC + h * hs;
                double s[AT], mx = -1e300, sum = 0;
                for (int j = 0; j <= t; j++) {
                    const float *k = a_qkv + (b * AT + j) * 3 * AC + AC + h * hs;
                    s[j] = 0;
                    for (int i = 0; i < hs; i++) s[j] += (double)q[i] * k[i];
                    s[j] /= sqrt(hs);
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j <= t; j++) sum += s[j] = exp(s[j] - mx);
                for (int j = 0; j < AT; j++)
                    CHECK_NEAR(a_att[((b * ANH + h) * AT + t) * AT + j], j <= t ? s[j] / sum : 0, 1e-6);
                for (int i = 0; i < hs; i++) {
                    double o = 0;
                    for (int j = 0; j <= t; j++) o += s[j] / sum * a_qkv[(b * AT + j) * 3 * AC + 2 * AC + h * hs + i];
                    CHECK_NEAR(a_out[(b * AT + t) * AC + h * hs + i], o, 1e-5);
                }
            }
    struct input in[] = {{"qkv", a_qkv, a_dqkv, AB * AT * 3 * AC}};
    gradcheck("attention", in, 1, a_back, H, ATOL, RTOL);

    /* The KV-cache step for position t equals row t of the full pass. */
    a_loss();
    float kc[AT * AC], vc[AT * AC], q[AC], o[AC], sc[ANH * AT];
    for (int t = 0; t < AT; t++) {
        const float *row = a_qkv + (1 * AT + t) * 3 * AC;      /* batch 1 */
        memcpy(q, row, sizeof q);
        memcpy(kc + t * AC, row + AC, AC * sizeof(float));
        memcpy(vc + t * AC, row + 2 * AC, AC * sizeof(float));
        attention_step(o, sc, q, kc, vc, t + 1, ANH, ANH, AC / ANH);
        for (int c = 0; c < AC; c++) CHECK_NEAR(o[c], a_out[(1 * AT + t) * AC + c], 1e-6);
    }
    free(a_qkv); free(a_out); free(a_att); free(a_dqkv); free(a_scratch); free((void *)r_out);
}

/* ---- gelu and residual ---- */
enum { GN = 41 };
static float *g_x, *g_out, *g_dx, *g_y, *g_dy;
static double g_loss(void) { gelu_forward(g_out, g_x, GN); return project(g_out); }
static void g_back(void) { gelu_backward(g_dx, r_out, g_x, GN); }
static double res_loss(void) { residual_forward(g_out, g_x, g_y, GN); return project(g_out); }
static void res_back(void) { residual_backward(g_dx, g_dy, r_out, GN); }

TEST(gelu_residual)
{
    g_x = zeros(GN); g_y = randn(GN, 1); g_out = zeros(GN); g_dx = zeros(GN); g_dy = zeros(GN);
    for (int i = 0; i < GN; i++) g_x[i] = -5 + 0.25f * i + 0.01f;   /* -4.99 .. 5.01 */
    n_out = GN; r_out = randn(n_out, 1);
    loss_fn = g_loss;
    g_loss();
    for (int i = 0; i < GN; i++) {
        double x = g_x[i];
        CHECK_NEAR(g_out[i], 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))), 1e-6);
    }
    struct input in[] = {{"inp", g_x, g_dx, GN}};
    gradcheck("gelu", in, 1, g_back, H, ATOL, RTOL);
    /* in place (dinp == dout, as gpt2.c calls it): the values of adding into zeros */
    float *acc = zeros(GN), *inplace = xmalloc(GN * sizeof *inplace);
    memcpy(inplace, r_out, GN * sizeof *inplace);
    gelu_backward(acc, r_out, g_x, GN);
    gelu_backward(inplace, inplace, g_x, GN);
    for (int i = 0; i < GN; i++) CHECK(inplace[i] == acc[i] && acc[i] != 0);
    /* the slope-keeping pair (gpt2.c's fast path), slope in place of the
     * input as gpt2.c keeps it: gelu_forward's output and gelu_backward's
     * gradient, adding into zeros and in place */
    float *sl = xmalloc(GN * sizeof *sl), *y2 = zeros(GN), *acc2 = zeros(GN);
    memcpy(sl, g_x, GN * sizeof *sl);
    gelu_forward_slope(y2, sl, sl, GN);
    gelu_backward_slope(acc2, r_out, sl, GN);
    memcpy(inplace, r_out, GN * sizeof *inplace);
    gelu_backward_slope(inplace, inplace, sl, GN);
    for (int i = 0; i < GN; i++) {
        CHECK_NEAR(y2[i], g_out[i], 1e-6);
        CHECK_NEAR(acc2[i], acc[i], 1e-6 * (1 + fabsf(acc[i])));
        CHECK(inplace[i] == acc2[i]);
    }
    free(acc); free(inplace); free(sl); free(y2); free(acc2);
    loss_fn = res_loss;
    struct input rin[] = {{"a", g_x, g_dx, GN}, {"b", g_y, g_dy, GN}};
    gradcheck("residual", rin, 2, res_back, H, ATOL, RTOL);
    free(g_x); free(g_y); free(g_out); free(g_dx); free(g_dy); free((void *)r_out);
}

/* fastmath.h: e^-a within a few float ulps where it is a normal float, 0
 * beyond, NaN kept; tanh within 2e-7. */
TEST(fastmath)
{
    double maxrel = 0, maxabs = 0;
    for (float a = 0; a < 87; a += 1e-4f * (1 + a)) {
        double want = exp(-(double)a), got = exp_neg(a);
        maxrel = fmax(maxrel, fabs(got - want) / want);
    }
    for (float u = -12; u < 12; u += 1e-4f) maxabs = fmax(maxabs, fabs(tanh_fast(u) - tanh((double)u)));
    printf("# exp_neg: max relative error %.3g; tanh_fast: max absolute error %.3g\n", maxrel, maxabs);
    CHECK(maxrel < 1e-6);
    CHECK(maxabs < 2e-7);
    CHECK(exp_neg(0) == 1);
    CHECK(exp_neg(200) < 2e-38f && exp_neg(200) >= 0);
    CHECK(exp_neg(INFINITY) < 2e-38f);
    CHECK(isnan(exp_neg(NAN)));
    CHECK(tanh_fast(100) == 1 && tanh_fast(-100) == -1 && tanh_fast(0) == 0);
}

/* GELU's vectorized tanh (ops_pointwise.c) over a wide range: tiny,
 * ordinary, saturated and huge inputs, and NaN passed through. */
TEST(gelu_accuracy)
{
    enum { N = 200001 };
    float *x = xmalloc(N * sizeof *x), *y = xmalloc(N * sizeof *y);
    for (int i = 0; i < N; i++) x[i] = -20 + 40.0f * i / (N - 1);
    x[0] = 1e-30f; x[1] = -1e-30f; x[2] = 0; x[3] = 1e4f; x[4] = -1e4f; x[5] = 1e30f; x[6] = -1e30f;
    gelu_forward(y, x, N);
    double maxerr = 0;
    for (int i = 0; i < N; i++) {
        double v = x[i], want = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        double err = fabs(y[i] - want) / fmax(1, fabs(v));
        if (err > maxerr) maxerr = err;
    }
    printf("# gelu: max |error| / max(1, |x|) = %.3g\n", maxerr);
    CHECK(maxerr < 3e-7);
    x[0] = NAN;
    gelu_forward(y, x, 1);
    CHECK(isnan(y[0]));
    free(x); free(y);
}

/* ---- softmax + cross-entropy ---- */
enum { XN = 4, XV = 9 };
static uint32_t x_tg[XN] = {0, 8, 3, 3};
static float *x_z, *x_dz, *x_loss, *x_lse;
static double x_lossfn(void) { crossentropy_forward(x_loss, x_lse, x_z, x_tg, XN, XV); return project(x_loss); }
static void x_back(void) { crossentropy_backward(x_dz, r_out, x_z, x_lse, x_tg, XN, XV); }

TEST(crossentropy)
{
    x_z = randn(XN * XV, 2); x_dz = zeros(XN * XV); x_loss = zeros(XN); x_lse = zeros(XN);
    x_z[5] = 60;       /* a large logit: the max subtraction must keep exp finite */
    n_out = XN; r_out = randn(n_out, 1); loss_fn = x_lossfn;
    x_lossfn();
    for (int n = 0; n < XN; n++) {
        double m = -1e300, s = 0;
        for (int v = 0; v < XV; v++) if (x_z[n * XV + v] > m) m = x_z[n * XV + v];
        for (int v = 0; v < XV; v++) s += exp(x_z[n * XV + v] - m);
        CHECK_NEAR(x_loss[n], m + log(s) - x_z[n * XV + x_tg[n]], 1e-5);
    }
    struct input in[] = {{"logits", x_z, x_dz, XN * XV}};
    gradcheck("crossentropy", in, 1, x_back, H, ATOL, RTOL);
    /* in place (dlogits == logits, as gpt2.c's fast path calls it): the
     * values of adding into zeros */
    x_lossfn();
    float *acc = zeros(XN * XV), *inplace = xmalloc(XN * XV * sizeof *inplace);
    memcpy(inplace, x_z, XN * XV * sizeof *inplace);
    crossentropy_backward(acc, r_out, x_z, x_lse, x_tg, XN, XV);
    crossentropy_backward(inplace, r_out, inplace, x_lse, x_tg, XN, XV);
    for (int i = 0; i < XN * XV; i++) CHECK(inplace[i] == acc[i] && acc[i] != 0);
    free(acc); free(inplace);
    free(x_z); free(x_dz); free(x_loss); free(x_lse); free((void *)r_out);
}

/* A test must be able to fail: a wrong backward is caught by the checker. */
static void wrong_gelu_back(void) { gelu_backward(g_dx, r_out, g_x, GN); g_dx[7] += 0.01f; }
TEST(checker_catches_wrong_gradient)
{
    g_x = randn(GN, 1); g_out = zeros(GN); g_dx = zeros(GN);
    n_out = GN; r_out = randn(n_out, 1); loss_fn = g_loss;
    int before = unit_failed_checks;
    struct input in[] = {{"inp", g_x, g_dx, GN}};
    printf("# (a deliberately wrong gradient follows)\n");
    gradcheck("gelu-wrong", in, 1, wrong_gelu_back, H, ATOL, RTOL);
    CHECK(unit_failed_checks > before);
    unit_failed_checks = before + (unit_failed_checks > before ? 0 : 1);
    free(g_x); free(g_out); free(g_dx); free((void *)r_out);
}

int main(void)
{
    tfs_set_prog("test_ops");
    rng_seed(&R, 1234);
    RUN(embedding);
    RUN(layernorm);
    RUN(linear);
    RUN(attention);
    RUN(gelu_residual);
    RUN(fastmath);
    RUN(gelu_accuracy);
    RUN(crossentropy);
    RUN(checker_catches_wrong_gradient);
    return unit_summary();
}
