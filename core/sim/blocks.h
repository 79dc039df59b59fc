// Prompt blocks of a trace, as vLLM's prefix cache sees them: a block is identified by its own
// content and every block before it (vLLM chains each block's hash with its parent's), so a
// trace's blocks form a trie. Each distinct (parent, id) pair gets a dense index; a request
// carries only the index of its last block, and its chain is read back through the parents.
// Memory grows with the distinct blocks of the trace, never with its requests.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Block 0 is no block: a request without blocks, the parent of a chain's first block.
#define SL_BLOCK_NONE 0u

typedef struct {
  uint32_t *parent;             // per block: the block before it (SL_BLOCK_NONE first in a chain)
  uint32_t *depth;              // per block: its position in its chain, from 1
  size_t n, cap;                // n counts block 0
  struct sl_blocks_slot *slots; // (parent, id) -> block, open addressing
  size_t nslots;
  uint32_t tokens; // tokens per block (the trace's granularity)
} sl_blocks_t;

void sl_blocks_init(sl_blocks_t *b, uint32_t tokens_per_block);
void sl_blocks_deinit(sl_blocks_t *b);
// The block with raw id `id` after `parent` (SL_BLOCK_NONE to start a chain), added when new;
// *seen tells whether it was there already. Returns 0, or SL_ENOMEM.
int sl_blocks_intern(sl_blocks_t *b, uint32_t parent, uint64_t id, uint32_t *out, bool *seen);
// Blocks in the chain ending at `last` (0 for SL_BLOCK_NONE).
static inline uint32_t sl_blocks_depth(const sl_blocks_t *b, uint32_t last) {
  return last == SL_BLOCK_NONE || !b ? 0 : b->depth[last];
}
// Writes the first n blocks of the chain ending at `last` into out[0..n), first block first
// (n <= its depth).
void sl_blocks_chain(const sl_blocks_t *b, uint32_t last, uint32_t n, uint32_t *out);
