package dev.rlhf.llama.generate;

/** Turns token ids into text; implemented by the tokenizer, kept as an interface so generation needs no file IO. */
@FunctionalInterface
public interface TokenDecoder {
    String decode(int[] ids);
}
