// Online profile fitting: an iterated extended Kalman filter over log-parameters.
#include "core/model/fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OBS 3
#define MAX_DIM (SL_FIT_MAX > MAX_OBS ? SL_FIT_MAX : MAX_OBS)
// Gauss-Newton relinearisations per update (it stops earlier once the step is negligible), and
// step halvings per relinearisation.
#define ITERATIONS 8
#define HALVINGS   8
#define FD_STEP    1e-5

// The 99.9% points of the chi-square distribution with 1, 2 and 3 degrees of freedom.
static const double chi2_999[MAX_OBS + 1] = {0, 10.828, 13.816, 16.266};

static int finite_pos(double v) {
  return isfinite(v) && v > 0;
}

int sl_fit_init(sl_fit_t *f, const sl_perf_t *guess, const sl_fit_opts_t *opts, sl_err_t *err) {
  sl_fit_opts_t o = opts ? *opts : (sl_fit_opts_t){0};
  if (guess->kind != SL_PERF_4P && guess->kind != SL_PERF_3P)
    return sl_err(err, SL_EINVAL, "kind: the fitter handles 4p and 3p profiles, not %s",
                  sl_perf_kind_name(guess->kind));
  int n;
  const sl_perf_param_t *d = sl_perf_params(guess->kind, &n);
  for (int i = 0; i < n; i++)
    if (!finite_pos(guess->v[i]))
      return sl_err(err, SL_EINVAL, "%s: the initial guess must be > 0 (got %g)", d[i].name,
                    guess->v[i]);
  if (o.drift == 0) o.drift = 0.002;
  if (o.noise == 0) o.noise = 0.05;
  if (o.spread == 0) o.spread = 1.0;
  if (o.bound == 0) o.bound = 100;
  if (!(finite_pos(o.drift) && o.drift < 1))
    return sl_err(err, SL_EINVAL, "drift: must be in (0, 1) (got %g)", o.drift);
  if (!(finite_pos(o.noise) && o.noise < 1))
    return sl_err(err, SL_EINVAL, "noise: must be in (0, 1) (got %g)", o.noise);
  if (!(finite_pos(o.spread) && o.spread <= 10))
    return sl_err(err, SL_EINVAL, "spread: must be in (0, 10] (got %g)", o.spread);
  if (!(isfinite(o.gate) && o.gate >= 0))
    return sl_err(err, SL_EINVAL, "gate: must be >= 0 (got %g)", o.gate);
  if (!(isfinite(o.bound) && o.bound > 1))
    return sl_err(err, SL_EINVAL, "bound: must be > 1 (got %g)", o.bound);
  memset(f, 0, sizeof *f);
  f->kind = guess->kind;
  f->dim = n;
  for (int i = 0; i < n; i++) {
    f->theta[i] = log(guess->v[i]);
    f->lo[i] = f->theta[i] - log(o.bound);
    f->hi[i] = f->theta[i] + log(o.bound);
    f->cov[i * n + i] = o.spread * o.spread;
  }
  f->drift = o.drift;
  f->noise = o.noise;
  f->gate = o.gate;
  f->spread = o.spread;
  return SL_OK;
}

void sl_fit_perf(const sl_fit_t *f, sl_perf_t *out) {
  memset(out, 0, sizeof *out);
  out->kind = f->kind;
  for (int i = 0; i < f->dim; i++) out->v[i] = exp(f->theta[i]);
}

int sl_fit_check(const sl_fit_t *f, sl_err_t *err) {
  int n;
  if ((f->kind != SL_PERF_4P && f->kind != SL_PERF_3P) || !sl_perf_params(f->kind, &n))
    return sl_err(err, SL_EINVAL, "kind: must be 4p or 3p");
  if (f->dim != n)
    return sl_err(err, SL_EINVAL, "theta: a %s fit has %d parameters, got %d",
                  sl_perf_kind_name(f->kind), n, f->dim);
  for (int i = 0; i < n; i++) {
    if (!isfinite(f->theta[i])) return sl_err(err, SL_EINVAL, "theta[%d]: not finite", i + 1);
    if (!(isfinite(f->lo[i]) && isfinite(f->hi[i]) && f->lo[i] < f->hi[i]))
      return sl_err(err, SL_EINVAL, "lo/hi[%d]: bounds must be finite with lo < hi", i + 1);
    if (!(f->cov[i * n + i] > 0 && isfinite(f->cov[i * n + i])))
      return sl_err(err, SL_EINVAL, "cov[%d][%d]: must be > 0", i + 1, i + 1);
    for (int j = 0; j < n; j++) {
      double a = f->cov[i * n + j], b = f->cov[j * n + i];
      if (!isfinite(a) || fabs(a - b) > 1e-9 * (fabs(a) + fabs(b)) + 1e-300)
        return sl_err(err, SL_EINVAL, "cov[%d][%d]: must be finite and symmetric", i + 1, j + 1);
      if (a * a > f->cov[i * n + i] * f->cov[j * n + j] * (1 + 1e-9))
        return sl_err(err, SL_EINVAL, "cov[%d][%d]: not a covariance (|corr| > 1)", i + 1, j + 1);
    }
  }
  if (!(finite_pos(f->drift) && f->drift < 1))
    return sl_err(err, SL_EINVAL, "drift: must be in (0, 1)");
  if (!(finite_pos(f->noise) && f->noise < 1))
    return sl_err(err, SL_EINVAL, "noise: must be in (0, 1)");
  if (!(isfinite(f->gate) && f->gate >= 0)) return sl_err(err, SL_EINVAL, "gate: must be >= 0");
  if (!(finite_pos(f->spread) && f->spread <= 10))
    return sl_err(err, SL_EINVAL, "spread: must be in (0, 10]");
  if (f->updates < 0 || f->rejected < 0 || f->rejected > f->updates)
    return sl_err(err, SL_EINVAL, "updates/rejected: counts out of range");
  if (f->streak < 0 || f->streak > SL_FIT_REWIDEN)
    return sl_err(err, SL_EINVAL, "streak: must be 0..%d", SL_FIT_REWIDEN);
  return SL_OK;
}

static int check_obs(const sl_fit_obs_t *o, sl_err_t *err) {
  if (!finite_pos(o->rate)) return sl_err(err, SL_EINVAL, "rate: must be > 0 req/s");
  if (!finite_pos(o->ttft_ms)) return sl_err(err, SL_EINVAL, "ttft_ms: must be > 0");
  if (!finite_pos(o->itl_ms)) return sl_err(err, SL_EINVAL, "itl_ms: must be > 0");
  if (!(isfinite(o->batch) && o->batch >= 0))
    return sl_err(err, SL_EINVAL, "batch: must be >= 0 (0 = not observed)");
  if (o->batch > o->max_batch)
    return sl_err(err, SL_EINVAL, "batch: %g is above max_batch %d", o->batch, o->max_batch);
  return SL_OK;
}

// log of the predicted (TTFT, ITL[, batch]) at theta.
static int model(const sl_fit_t *f, const double *theta, const sl_fit_obs_t *o, sl_queue_t *q,
                 size_t qbytes, int m, double *z, sl_err_t *err) {
  sl_perf_t p = {.kind = f->kind};
  for (int i = 0; i < f->dim; i++) p.v[i] = exp(theta[i]);
  sl_shape_t sh = {.max_batch = o->max_batch,
                   .max_queue = o->max_queue,
                   .in_tokens = o->in_tokens,
                   .out_tokens = o->out_tokens};
  int rc = sl_queue_init(q, qbytes, &p, &sh, err);
  if (rc) return rc;
  sl_pred_t pr;
  if ((rc = sl_queue_predict(q, o->rate, 0, &pr, err))) return rc;
  z[0] = log(pr.ttft_ms);
  z[1] = log(pr.itl_ms);
  if (m > 2) z[2] = log(pr.in_service > 1e-300 ? pr.in_service : 1e-300);
  for (int i = 0; i < m; i++)
    if (!isfinite(z[i])) return sl_err(err, SL_ERANGE, "model prediction is not finite");
  return SL_OK;
}

// Inverse of a small symmetric positive-definite matrix (m <= 4) by Gauss-Jordan with pivoting.
static int invert(int m, const double *a, double *inv) {
  double w[MAX_DIM][2 * MAX_DIM];
  for (int i = 0; i < m; i++)
    for (int j = 0; j < 2 * m; j++) w[i][j] = j < m ? a[i * m + j] : (j - m == i);
  for (int c = 0; c < m; c++) {
    int piv = c;
    for (int r = c + 1; r < m; r++)
      if (fabs(w[r][c]) > fabs(w[piv][c])) piv = r;
    if (!(fabs(w[piv][c]) > 1e-300)) return -1;
    if (piv != c)
      for (int j = 0; j < 2 * m; j++) {
        double t = w[c][j];
        w[c][j] = w[piv][j];
        w[piv][j] = t;
      }
    double d = w[c][c];
    for (int j = 0; j < 2 * m; j++) w[c][j] /= d;
    for (int r = 0; r < m; r++) {
      if (r == c) continue;
      double k = w[r][c];
      for (int j = 0; j < 2 * m; j++) w[r][j] -= k * w[c][j];
    }
  }
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) inv[i * m + j] = w[i][m + j];
  return 0;
}

// The negative log posterior (up to constants) at theta: observation misfit plus distance from
// the prior mean theta0 under the prior covariance (inverse pinv).
static double cost(int m, int d, const double *z, const double *h, double r, const double *th,
                   const double *th0, const double *pinv) {
  double j = 0;
  for (int i = 0; i < m; i++) j += (z[i] - h[i]) * (z[i] - h[i]) / r;
  for (int a = 0; a < d; a++)
    for (int b = 0; b < d; b++) j += (th[a] - th0[a]) * pinv[a * d + b] * (th[b] - th0[b]);
  return j;
}

int sl_fit_update(sl_fit_t *f, const sl_fit_obs_t *o, void *work, size_t work_bytes, int *accepted,
                  sl_err_t *err) {
  int rc = sl_fit_check(f, err);
  if (rc) return rc;
  if ((rc = check_obs(o, err))) return rc;
  sl_shape_t sh = {.max_batch = o->max_batch,
                   .max_queue = o->max_queue,
                   .in_tokens = o->in_tokens,
                   .out_tokens = o->out_tokens};
  sl_perf_t probe;
  sl_fit_perf(f, &probe);
  sl_queue_t *q = work;
  if (q && work_bytes < sl_queue_bytes(o->max_batch))
    return sl_err(err, SL_EINVAL, "fit work buffer too small for max_batch %d", o->max_batch);
  if (!q) {
    // Validates the shape too, before anything else moves.
    if (!(q = sl_queue_new(&probe, &sh, err))) return err ? err->code : SL_EINVAL;
    work_bytes = sl_queue_bytes(o->max_batch);
  } else if ((rc = sl_queue_init(q, work_bytes, &probe, &sh, err))) {
    return rc;
  }

  const int d = f->dim, m = o->batch > 0 ? 3 : 2;
  const double z[MAX_OBS] = {log(o->ttft_ms), log(o->itl_ms), o->batch > 0 ? log(o->batch) : 0};
  const double r = f->noise * f->noise; // log-space variance of a relative error
  const double gate = f->gate > 0 ? f->gate : chi2_999[m];
  // Predict: the parameters may have drifted since the last update.
  double p[SL_FIT_MAX * SL_FIT_MAX], pinv[SL_FIT_MAX * SL_FIT_MAX];
  memcpy(p, f->cov, sizeof p);
  for (int i = 0; i < d; i++) p[i * d + i] += f->drift * f->drift;
  if (invert(d, p, pinv)) {
    rc = sl_err(err, SL_ERANGE, "cov: the covariance is singular");
    goto done;
  }

  double th0[SL_FIT_MAX], th[SL_FIT_MAX], h[MAX_OBS], hj[MAX_OBS], ht[MAX_OBS];
  double H[MAX_OBS * SL_FIT_MAX], S[MAX_OBS * MAX_OBS], Si[MAX_OBS * MAX_OBS];
  double K[SL_FIT_MAX * MAX_OBS];
  memcpy(th0, f->theta, sizeof th0);
  memcpy(th, f->theta, sizeof th);
  double nis = 0;
  if ((rc = model(f, th, o, q, work_bytes, m, h, err))) goto done;
  for (int it = 0; it < ITERATIONS; it++) {
    for (int j = 0; j < d; j++) {
      double tp[SL_FIT_MAX];
      memcpy(tp, th, sizeof tp);
      tp[j] += FD_STEP;
      if ((rc = model(f, tp, o, q, work_bytes, m, hj, err))) goto done;
      for (int i = 0; i < m; i++) H[i * d + j] = (hj[i] - h[i]) / FD_STEP;
    }
    // S = H P H' + R
    for (int i = 0; i < m; i++)
      for (int k = 0; k < m; k++) {
        double sum = i == k ? r : 0;
        for (int a = 0; a < d; a++)
          for (int b = 0; b < d; b++) sum += H[i * d + a] * p[a * d + b] * H[k * d + b];
        S[i * m + k] = sum;
      }
    if (invert(m, S, Si)) {
      rc = sl_err(err, SL_ERANGE, "innovation covariance is singular");
      goto done;
    }
    // y = z - h(th) - H (th0 - th): the iterated filter's innovation about the prior.
    double y[MAX_OBS];
    for (int i = 0; i < m; i++) {
      y[i] = z[i] - h[i];
      for (int a = 0; a < d; a++) y[i] -= H[i * d + a] * (th0[a] - th[a]);
    }
    // K = P H' S^-1; the full step goes to th0 + K y.
    for (int a = 0; a < d; a++)
      for (int k = 0; k < m; k++) {
        double sum = 0;
        for (int b = 0; b < d; b++)
          for (int i = 0; i < m; i++) sum += p[a * d + b] * H[i * d + b] * Si[i * m + k];
        K[a * m + k] = sum;
      }
    double full[SL_FIT_MAX];
    for (int a = 0; a < d; a++) {
      full[a] = th0[a];
      for (int k = 0; k < m; k++) full[a] += K[a * m + k] * y[k];
    }
    // Halve the step until the posterior cost falls: the linearisation can be far off where the
    // queue saturates.
    double j_now = cost(m, d, z, h, r, th, th0, pinv), step = 1, moved_by = 0;
    int moved = 0;
    for (int hv = 0; hv < HALVINGS && !moved; hv++, step *= 0.5) {
      double tt[SL_FIT_MAX];
      for (int a = 0; a < d; a++) {
        double t = th[a] + step * (full[a] - th[a]);
        tt[a] = t < f->lo[a] ? f->lo[a] : t > f->hi[a] ? f->hi[a] : t;
      }
      if (model(f, tt, o, q, work_bytes, m, ht, NULL)) continue;
      if (cost(m, d, z, ht, r, tt, th0, pinv) < j_now) {
        for (int a = 0; a < d; a++) moved_by = fmax(moved_by, fabs(tt[a] - th[a]));
        memcpy(th, tt, sizeof th);
        memcpy(h, ht, sizeof h);
        moved = 1;
      }
    }
    if (!moved || moved_by < 1e-7) break;
  }
  // The minimised posterior cost is the nonlinear form of the normalised innovation squared
  // (for a linear model they are equal): an observation no parameter value near the current
  // belief explains is an outlier. Gating after the fit, not at the prior, lets a far-off start
  // (whose queue may be saturated at the observed rate) still learn.
  nis = cost(m, d, z, h, r, th, th0, pinv);
  f->updates++;
  f->last_nis = nis;
  if (!(nis <= gate)) {
    f->rejected++;
    if (++f->streak >= SL_FIT_REWIDEN) {
      // Too many outliers in a row: the replica has changed. Forget the confidence, keep the
      // estimate, and let the next observations move it.
      memset(f->cov, 0, sizeof f->cov);
      for (int i = 0; i < d; i++) f->cov[i * d + i] = f->spread * f->spread;
      f->streak = 0;
    } else {
      // An outlier: keep the estimate, only let the uncertainty grow by the drift.
      memcpy(f->cov, p, sizeof p);
    }
    if (accepted) *accepted = 0;
    rc = SL_OK;
    goto done;
  }
  f->streak = 0;
  // Joseph form: P = (I - K H) P (I - K H)' + K R K', symmetric and positive by construction.
  double A[SL_FIT_MAX * SL_FIT_MAX], AP[SL_FIT_MAX * SL_FIT_MAX];
  for (int a = 0; a < d; a++)
    for (int b = 0; b < d; b++) {
      double sum = a == b;
      for (int k = 0; k < m; k++) sum -= K[a * m + k] * H[k * d + b];
      A[a * d + b] = sum;
    }
  for (int a = 0; a < d; a++)
    for (int b = 0; b < d; b++) {
      double sum = 0;
      for (int c = 0; c < d; c++) sum += A[a * d + c] * p[c * d + b];
      AP[a * d + b] = sum;
    }
  for (int a = 0; a < d; a++)
    for (int b = 0; b <= a; b++) {
      double sum = 0;
      for (int c = 0; c < d; c++) sum += AP[a * d + c] * A[b * d + c];
      for (int k = 0; k < m; k++) sum += K[a * m + k] * r * K[b * m + k];
      f->cov[a * d + b] = f->cov[b * d + a] = sum;
    }
  memcpy(f->theta, th, sizeof th);
  if (accepted) *accepted = 1;
  rc = SL_OK;
done:
  if (q != work) sl_queue_free(q);
  return rc;
}
