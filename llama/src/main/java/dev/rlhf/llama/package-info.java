/** The LLaMA-2 model library: config, tokenizer, model blocks, checkpoints, generation and training. No transport code. */
package dev.rlhf.llama;
