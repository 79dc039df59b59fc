// The context-aware engine step model: the time one continuous-batching step takes on a GPU,
// from what is in the step. This is what the simulator calls once per engine step, so the hot
// functions are static inline, allocate nothing and never look at individual requests.
//
// A step decodes `batch` sequences (one token each) whose KV caches hold `ctx_tokens` tokens in
// total, and may carry prefill chunks totalling `prefill_tokens`. It costs the larger of
//   memory-bound time:  a + b * (batch + prefill_tokens) + c * ctx_tokens
//   compute-bound time: (batch + prefill_tokens) / prefill throughput + attention pairs * q
// plus a per-step scheduling overhead. See docs/calibration.md for the fit and its residuals.
#pragma once

#include "core/util/err.h"

// Fast form, in milliseconds and tokens (user-facing units live in core/model/perf.h).
typedef struct {
  double a_ms;         // weights read once per step: the floor of every step
  double b_ms_per_tok; // per token scheduled in the step (decode or prefill)
  double c_ms_per_ctx; // per resident context token read by decode attention (KV bytes)
  double ms_per_tok;   // compute per token: 1 / prefill throughput
  double ms_per_pair;  // prefill attention per (query token, earlier token) pair
  double overhead_ms;  // per-step scheduling on the host, not overlapped with the GPU
  double request_ms;   // per request before the engine (HTTP, tokenisation): TTFT only
} sl_step_t;

// Step time with the prefill attention work given exactly: prefill_pairs is the sum over the
// step's prefill chunks of len * (start + len / 2), start being the chunk's offset in its prompt.
static inline double sl_step_ms_ex(const sl_step_t *p, double batch, double ctx_tokens,
                                   double prefill_tokens, double prefill_pairs) {
  double tokens = batch + prefill_tokens;
  double mem = p->a_ms + p->b_ms_per_tok * tokens + p->c_ms_per_ctx * ctx_tokens;
  double cmp = p->ms_per_tok * tokens + p->ms_per_pair * prefill_pairs;
  return (mem > cmp ? mem : cmp) + p->overhead_ms;
}

// Step time when the prefill tokens form one chunk starting at offset 0 (a whole prompt), the
// common case; decode batch size, sum of its context tokens, prefill tokens in the step.
static inline double sl_step_ms(const sl_step_t *p, int batch, double ctx_tokens,
                                double prefill_tokens) {
  return sl_step_ms_ex(p, batch, ctx_tokens, prefill_tokens, 0.5 * prefill_tokens * prefill_tokens);
}

// A model's shape and a GPU's speeds, to derive a step profile for a (model, GPU) pair that was
// never measured: each GPU-side term is the reference calibration's (Llama-3.1-8B on one H100
// SXM) rescaled by bytes moved or flops done over the new GPU's speed at the same achieved
// efficiency. See docs/calibration.md for the method and how well it transfers.
//
// Under tensor parallelism each layer all-reduces its activations twice (after attention and
// after the MLP), which the GPUs cannot overlap with the layer's own work: per all-reduce a
// latency of ar_hop_us per log2(tp) steps (latency-bound all-reduces take log2(tp) rounds) plus
// 2 (tp - 1) / tp of the tokens' activations (tokens x hidden x bytes per element) over
// link_bw. The latency is a per-step cost that grows with tp instead of shrinking; the bytes
// are a per-token cost. Shapes without layers and hidden get neither (ideal scaling).
typedef struct {
  double weight_bytes;        // bytes of weights read per step (all shards together)
  double kv_bytes_per_token;  // 2 * layers * kv_heads * head_dim * bytes per element
  double params;              // parameter count (compute is 2 * params flops per token)
  double attn_flops_per_pair; // 4 * layers * q_heads * head_dim (QK^T and AV)
  double layers;              // transformer layers (0 = unknown: no all-reduce terms)
  double hidden;              // model width, elements per token an all-reduce carries
} sl_step_llm_t;

typedef struct {
  double mem_bw;    // bytes/s per GPU (HBM)
  double flops;     // dense flop/s per GPU in the serving dtype
  int tp;           // GPUs per replica (tensor parallel), >= 1
  double comm_ms;   // extra per-step host cost under tensor parallelism, added to the overhead
  double mem_eff;   // achieved fraction of mem_bw; 0 = the reference's (about 0.72)
  double flop_eff;  // achieved fraction of flops; 0 = the reference's (about 0.65)
  double link_bw;   // bytes/s one GPU's all-reduce achieves (bus bandwidth); needed for tp > 1
  double ar_hop_us; // all-reduce latency per log2(tp) round; 0 = SL_STEP_AR_HOP_US
} sl_step_gpu_t;

// All-reduce latency per round, in microseconds: set from the Splitwise Llama-2-70B decode
// series (A100 and H100, TP 2-8) and checked on the series it was not set from
// (docs/calibration.md, tests/bench/bench_calibration.c).
#define SL_STEP_AR_HOP_US 51.0

// The reference the derivation scales from: Llama-3.1-8B (BF16) and H100 SXM 80GB.
extern const sl_step_llm_t sl_step_ref_llm;
extern const sl_step_gpu_t sl_step_ref_gpu;

// The built-in calibrated profile for Llama-3.1-8B on one H100 80GB (vLLM, BF16, CUDA graphs),
// fitted by tests/bench/bench_calibration.c; numbers and residuals in docs/calibration.md.
#define SL_L8H_A_MS          6.62724    // ms
#define SL_L8H_B_MS          0.00670695 // ms per token in the step
#define SL_L8H_C_MS_KTOK     0.0558244  // ms per 1000 context tokens
#define SL_L8H_TOK_S         39968.8    // prefill tokens/s
#define SL_L8H_ATTN_MS_MPAIR 0.793889   // ms per million attention pairs
#define SL_L8H_OVERHEAD_MS   0.48       // ms per step (vLLM host scheduling)
#define SL_L8H_REQUEST_MS    7.0        // ms per request before the engine
extern const sl_step_t sl_step_llama31_8b_h100;

// Derives a step profile for model m on GPU g. Host-side terms (overhead_ms, request_ms) are the
// reference's; b (per-token work not hidden behind memory traffic) scales with compute. Under
// tensor parallelism the all-reduce latency joins the overhead and the all-reduce bytes per
// token join both b and the compute per token (the step waits for them either way).
int sl_step_derive(const sl_step_llm_t *m, const sl_step_gpu_t *g, sl_step_t *out, sl_err_t *err);
