/** Byte-level BPE training and the single loading path for Hugging Face {@code tokenizer.json} files. */
package dev.rlhf.llama.tokenizer;
