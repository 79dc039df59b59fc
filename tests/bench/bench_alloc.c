// Allocator benchmark: time per solve and distance to its own bounds on seeded random
// instances (tests/bench/alloc_milp.sh compares the same instances with CBC and GLPK).
//
//   bench_alloc                 print the figures
//   bench_alloc --lp DIR [N]    also write each instance as a MILP (DIR/<name>.lp) and our
//                               results (DIR/ours.tsv); N instances per set (default 20/10/10)
//
// Sets: (a) 20 groups x 6 types, 200 GPUs, inventory ample; (b) 100 groups x 6 types, 1,000
// GPUs, half ample, half about 30% short. The instance generator is core/alloc/allocgen.c.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/alloc/alloc.h"
#include "core/alloc/allocgen.h"

#define REPS 7 // solves per instance; the fastest is reported (least disturbed by other load)

// --- the MILP, in CPLEX LP format (read by both CBC and glpsol) -------------------------------
// Kind "cost": minimise cost plus transition penalty subject to serving every group in full.
// Kind "fair": maximise the lowest served fraction (one priority level), served capped at 1.
// Variables: n<i> replicas of variants[i], u<i>/d<i> replicas added/removed against current,
// s<g> served fraction, t the lowest served fraction.
typedef enum { ALLOC_LP_COST, ALLOC_LP_FAIR } alloc_lp_kind_t;

static void term(FILE *f, int *col, double coef, const char *fmt, int i) {
  if (coef == 0) return;
  fprintf(f, " %s %.12g ", coef < 0 ? "-" : "+", coef < 0 ? -coef : coef);
  fprintf(f, fmt, i);
  if (++*col % 6 == 0) fputs("\n", f);
}

static void alloc_lp_write(FILE *f, const sl_alloc_problem_t *p, double penalty,
                           alloc_lp_kind_t kind) {
  int col = 0;
  fputs("\\ sluice allocator instance\n", f);
  if (kind == ALLOC_LP_COST) {
    fputs("Minimize\n obj:", f);
    for (int i = 0; i < p->nvariants; i++) {
      const sl_alloc_variant_t *v = &p->variants[i];
      term(f, &col, v->cost, "n%d", i);
      term(f, &col, penalty * v->cost, "u%d", i);
      term(f, &col, penalty * v->cost, "d%d", i);
    }
    if (!col) fputs(" 0 n0", f); // every cost is zero
    fputs("\n", f);
  } else {
    fputs("Maximize\n obj: t\n", f);
  }
  fputs("Subject To\n", f);
  for (int g = 0; g < p->ngroups; g++) {
    fprintf(f, " dem%d:", g);
    col = 0;
    int any = 0;
    for (int i = 0; i < p->nvariants; i++)
      if (p->variants[i].group == g && p->variants[i].max_rate > 0) {
        term(f, &col, p->variants[i].max_rate, "n%d", i);
        any = 1;
      }
    if (!any) fputs(" 0 n0", f);
    if (kind == ALLOC_LP_COST) {
      fprintf(f, " >= %.12g\n", p->groups[g].demand);
    } else {
      fprintf(f, " - %.12g s%d >= 0\n", p->groups[g].demand, g);
      fprintf(f, " low%d: t - s%d <= 0\n", g, g);
    }
  }
  for (int t = 0; t < p->ntypes; t++) {
    if (p->types[t].gpus < 0) continue;
    fprintf(f, " gpu%d:", t);
    col = 0;
    int any = 0;
    for (int i = 0; i < p->nvariants; i++)
      if (p->variants[i].type == t) {
        term(f, &col, p->variants[i].gpus, "n%d", i);
        any = 1;
      }
    if (!any) fputs(" 0 n0", f);
    fprintf(f, " <= %ld\n", p->types[t].gpus);
  }
  if (kind == ALLOC_LP_COST)
    for (int i = 0; i < p->nvariants; i++)
      fprintf(f, " tr%d: n%d - u%d + d%d = %d\n", i, i, i, i, p->variants[i].current);
  fputs("Bounds\n", f);
  for (int i = 0; i < p->nvariants; i++)
    fprintf(f, " %d <= n%d <= %d\n", p->variants[i].min, i, p->variants[i].max);
  if (kind == ALLOC_LP_FAIR) {
    for (int g = 0; g < p->ngroups; g++) fprintf(f, " 0 <= s%d <= 1\n", g);
    fputs(" 0 <= t <= 1\n", f);
  }
  fputs("General\n", f);
  for (int i = 0; i < p->nvariants; i++) fprintf(f, " n%d%s", i, (i + 1) % 12 ? "" : "\n");
  fputs("\nEnd\n", f);
}

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static double wall_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  const char *name;
  int ng;
  long gpus;
  double load; // <= 1: ample; 1 / 0.7: about 30% short
  int n;
  unsigned seed0;
} set_t;

int main(int argc, char **argv) {
  const char *dir = NULL;
  int nlimit = 0;
  if (argc >= 3 && !strcmp(argv[1], "--lp")) {
    dir = argv[2];
    if (argc >= 4) nlimit = atoi(argv[3]);
    mkdir(dir, 0755);
  }
  set_t sets[] = {
      {"a", 20, 200, 0.75, 20, 1000},
      {"b-cost", 100, 1000, 0.75, 10, 2000},
      {"b-fair", 100, 1000, 1.0 / 0.7, 10, 3000},
  };
  FILE *tsv = NULL;
  if (dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/ours.tsv", dir);
    tsv = fopen(path, "w");
    if (!tsv) {
      perror(path);
      return 1;
    }
    fprintf(tsv, "name\tkind\tobjective\tcost\tfair_min\tlp_bound\tbound\tfair_bound\tcpu_ms\n");
  }
  printf("allocator: fastest of %d solves per instance, CPU time (wall time in brackets)\n", REPS);
  for (unsigned s = 0; s < sizeof sets / sizeof *sets; s++) {
    set_t *st = &sets[s];
    int n = nlimit > 0 && nlimit < st->n ? nlimit : st->n;
    double tsum = 0, tmax = 0, wsum = 0, gsum = 0, gmax = 0, lpsum = 0, fsum = 0, fgap = 0;
    int shortn = 0, optn = 0;
    for (int i = 0; i < n; i++) {
      sl_allocgen_opts_t go;
      sl_allocgen_opts_init(&go);
      go.ngroups = st->ng;
      go.gpus = st->gpus;
      go.load = st->load;
      go.seed = st->seed0 + (unsigned)i;
      sl_allocgen_t gen;
      sl_err_t e;
      if (sl_allocgen_make(&go, &gen, &e)) {
        fprintf(stderr, "generator: %s\n", e.msg);
        return 1;
      }
      sl_alloc_opts_t o;
      sl_alloc_opts_init(&o);
      double ct[REPS], wt[REPS];
      sl_alloc_result_t r;
      for (int k = 0; k < REPS; k++) {
        double c0 = cpu_now(), w0 = wall_now();
        if (sl_alloc_solve(&gen.p, &o, &r, &e)) {
          fprintf(stderr, "solve: %s\n", e.msg);
          return 1;
        }
        ct[k] = (cpu_now() - c0) * 1e3;
        wt[k] = (wall_now() - w0) * 1e3;
        if (k < REPS - 1) sl_alloc_result_deinit(&r);
      }
      qsort(ct, REPS, sizeof *ct, cmp_dbl);
      qsort(wt, REPS, sizeof *wt, cmp_dbl);
      double t = ct[0];
      tsum += t;
      wsum += wt[0];
      tmax = fmax(tmax, t);
      shortn += r.shortage;
      optn += r.optimal;
      gsum += r.cost_gap;
      gmax = fmax(gmax, r.cost_gap);
      lpsum += r.objective > 0 ? (r.objective - r.lp_cost_bound) / r.objective : 0;
      if (r.shortage) {
        fsum += r.fair_min;
        fgap += r.fair_bound - r.fair_min;
      }
      if (dir) {
        int fair = st->load > 1;
        char path[512];
        snprintf(path, sizeof path, "%s/%s%02d.lp", dir, st->name, i + 1);
        FILE *f = fopen(path, "w");
        if (!f) {
          perror(path);
          return 1;
        }
        alloc_lp_write(f, &gen.p, o.transition_penalty, fair ? ALLOC_LP_FAIR : ALLOC_LP_COST);
        fclose(f);
        fprintf(tsv, "%s%02d\t%s\t%.10g\t%.10g\t%.10g\t%.10g\t%.10g\t%.10g\t%.3f\n", st->name,
                i + 1, fair ? "fair" : "cost", fair ? r.fair_min : r.objective, r.objective,
                r.fair_min, r.lp_cost_bound, r.cost_bound, r.fair_bound, t);
      }
      sl_alloc_result_deinit(&r);
      sl_allocgen_deinit(&gen);
    }
    printf("set %-7s %3d groups, %4ld GPUs, %2d instances: %.2f ms mean, %.2f ms max (%.2f ms "
           "wall mean); %d short, %d proven optimal\n",
           st->name, st->ng, st->gpus, n, tsum / n, tmax, wsum / n, shortn, optn);
    if (shortn < n)
      printf("    cost: gap to our Lagrangian bound %.3f%% mean, %.3f%% max; to the LP bound "
             "%.2f%% mean\n",
             100 * gsum / n, 100 * gmax, 100 * lpsum / n);
    if (shortn)
      printf("    fairness: lowest served fraction %.4f mean, %.4f below the LP's max-min on "
             "average\n",
             fsum / shortn, fgap / shortn);
  }
  if (tsv) fclose(tsv);
  return 0;
}
