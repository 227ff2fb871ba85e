package dev.rlhf.llama.generate;

/** Turns token ids into text; implemented by the tokenizer, kept as an interface so generation needs no file IO. */
@FunctionalInterface
public interface TokenDecoder {
    /** For a model without a tokenizer: the ids as space-separated numbers (so a stop string can target a token). */
    TokenDecoder IDS = ids -> java.util.Arrays.stream(ids).mapToObj(Integer::toString)
            .collect(java.util.stream.Collectors.joining(" "));

    String decode(int[] ids);
}
