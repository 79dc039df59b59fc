// Deriving a step profile for an unmeasured (model, GPU) pair from the calibrated reference.
#include "core/model/step.h"

#include <math.h>

const sl_step_t sl_step_llama31_8b_h100 = {
    .a_ms = SL_L8H_A_MS,
    .b_ms_per_tok = SL_L8H_B_MS,
    .c_ms_per_ctx = SL_L8H_C_MS_KTOK / 1000.0,
    .ms_per_tok = 1000.0 / SL_L8H_TOK_S,
    .ms_per_pair = SL_L8H_ATTN_MS_MPAIR / 1e6,
    .overhead_ms = SL_L8H_OVERHEAD_MS,
    .request_ms = SL_L8H_REQUEST_MS,
};

// Llama-3.1-8B: 8,030,261,248 parameters in BF16; 32 layers of width 4096, 8 KV heads and 32
// query heads of dimension 128.
const sl_step_llm_t sl_step_ref_llm = {
    .weight_bytes = 16060522496.0,
    .kv_bytes_per_token = 2.0 * 32 * 8 * 128 * 2,
    .params = 8030261248.0,
    .attn_flops_per_pair = 4.0 * 32 * 32 * 128,
    .layers = 32,
    .hidden = 4096,
};

// H100 SXM 80GB HBM3: 3.35 TB/s, 989.4 dense BF16 TFLOP/s.
const sl_step_gpu_t sl_step_ref_gpu = {.mem_bw = 3.35e12, .flops = 989.4e12, .tp = 1};

static int positive(double v) {
  return isfinite(v) && v > 0;
}

// Two all-reduces per layer (docs/calibration.md): latency per step, bytes per token. The bytes
// per element are the weights' (weight_bytes / params): activations travel in the serving dtype.
static void add_allreduce(const sl_step_llm_t *m, const sl_step_gpu_t *g, sl_step_t *out) {
  double n = 2 * m->layers, hop_us = g->ar_hop_us > 0 ? g->ar_hop_us : SL_STEP_AR_HOP_US;
  double bytes = m->hidden * m->weight_bytes / m->params;
  double per_tok = 1e3 * n * bytes * 2.0 * (g->tp - 1) / g->tp / g->link_bw;
  out->overhead_ms += n * log2(g->tp) * hop_us * 1e-3;
  out->b_ms_per_tok += per_tok;
  out->ms_per_tok += per_tok;
}

int sl_step_derive(const sl_step_llm_t *m, const sl_step_gpu_t *g, sl_step_t *out, sl_err_t *err) {
  if (!positive(m->weight_bytes)) return sl_err(err, SL_EINVAL, "weight_bytes: must be > 0");
  if (!positive(m->kv_bytes_per_token))
    return sl_err(err, SL_EINVAL, "kv_bytes_per_token: must be > 0");
  if (!positive(m->params)) return sl_err(err, SL_EINVAL, "params: must be > 0");
  if (!(isfinite(m->attn_flops_per_pair) && m->attn_flops_per_pair >= 0))
    return sl_err(err, SL_EINVAL, "attn_flops_per_pair: must be >= 0");
  if (!positive(g->mem_bw)) return sl_err(err, SL_EINVAL, "mem_bw: must be > 0 bytes/s");
  if (!positive(g->flops)) return sl_err(err, SL_EINVAL, "flops: must be > 0 flop/s");
  if (g->tp < 1) return sl_err(err, SL_EINVAL, "tp: must be >= 1 (got %d)", g->tp);
  if (!(isfinite(g->comm_ms) && g->comm_ms >= 0))
    return sl_err(err, SL_EINVAL, "comm_ms: must be >= 0");
  if (!(isfinite(g->mem_eff) && g->mem_eff >= 0 && g->mem_eff <= 1))
    return sl_err(err, SL_EINVAL, "mem_eff: must be in (0, 1], or 0 for the default");
  if (!(isfinite(g->flop_eff) && g->flop_eff >= 0 && g->flop_eff <= 1))
    return sl_err(err, SL_EINVAL, "flop_eff: must be in (0, 1], or 0 for the default");
  if (!(isfinite(m->layers) && m->layers >= 0))
    return sl_err(err, SL_EINVAL, "layers: must be >= 0");
  if (!(isfinite(m->hidden) && m->hidden >= 0))
    return sl_err(err, SL_EINVAL, "hidden: must be >= 0");
  if (!(isfinite(g->link_bw) && g->link_bw >= 0))
    return sl_err(err, SL_EINVAL, "link_bw: must be >= 0 bytes/s");
  if (!(isfinite(g->ar_hop_us) && g->ar_hop_us >= 0))
    return sl_err(err, SL_EINVAL, "ar_hop_us: must be >= 0, or 0 for the default");
  if (g->tp > 1 && m->layers > 0 && m->hidden > 0 && !(g->link_bw > 0))
    return sl_err(err, SL_EINVAL,
                  "link_bw: needed for tp %d (the bytes/s one GPU's all-reduce reaches)", g->tp);

  const sl_step_t *r = &sl_step_llama31_8b_h100;
  const sl_step_llm_t *rm = &sl_step_ref_llm;
  const sl_step_gpu_t *rg = &sl_step_ref_gpu;
  // Achieved efficiencies of the reference, term by term (ms -> s).
  double w_eff = rm->weight_bytes / (r->a_ms * 1e-3 * rg->mem_bw);
  double kv_eff = rm->kv_bytes_per_token / (r->c_ms_per_ctx * 1e-3 * rg->mem_bw);
  double f_eff = 2 * rm->params / (r->ms_per_tok * 1e-3 * rg->flops);
  double at_eff = rm->attn_flops_per_pair / (r->ms_per_pair * 1e-3 * rg->flops);
  // A caller's efficiency replaces the reference's and moves the sibling term with it.
  if (g->mem_eff > 0) {
    kv_eff *= g->mem_eff / w_eff;
    w_eff = g->mem_eff;
  }
  if (g->flop_eff > 0) {
    at_eff *= g->flop_eff / f_eff;
    f_eff = g->flop_eff;
  }
  double bw = g->mem_bw * g->tp, fl = g->flops * g->tp;
  out->a_ms = 1e3 * m->weight_bytes / (w_eff * bw);
  out->c_ms_per_ctx = 1e3 * m->kv_bytes_per_token / (kv_eff * bw);
  out->ms_per_tok = 1e3 * 2 * m->params / (f_eff * fl);
  out->ms_per_pair = 1e3 * m->attn_flops_per_pair / (at_eff * fl);
  out->b_ms_per_tok = r->b_ms_per_tok * out->ms_per_tok / r->ms_per_tok;
  out->overhead_ms = r->overhead_ms + (g->tp > 1 ? g->comm_ms : 0);
  out->request_ms = r->request_ms;
  if (g->tp > 1 && m->layers > 0 && m->hidden > 0) add_allreduce(m, g, out);
  return SL_OK;
}
