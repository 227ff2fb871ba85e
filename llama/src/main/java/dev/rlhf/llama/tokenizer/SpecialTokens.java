package dev.rlhf.llama.tokenizer;

import java.util.List;

/** Our special tokens, which occupy the first vocabulary ids of every tokenizer we train. */
public final class SpecialTokens {

    /** Padding; id 0 so that zero-initialised id buffers are already padding. */
    public static final String PAD = "<pad>";
    public static final int PAD_ID = 0;

    /** Beginning of sequence, the token LLaMA puts in front of every sequence. */
    public static final String BOS = "<s>";
    public static final int BOS_ID = 1;

    /** End of sequence: generation stops when the model emits it. */
    public static final String EOS = "</s>";
    public static final int EOS_ID = 2;

    /** Separates prompt and answer in SFT examples (LLaMA 2 §3.1, LLAMA2-RECIPE.md). */
    public static final String SEP = "<sep>";
    public static final int SEP_ID = 3;

    /** All special tokens; a token's index in this list is its id. */
    public static final List<String> ALL = List.of(PAD, BOS, EOS, SEP);

    public static final int COUNT = ALL.size();

    private SpecialTokens() {}
}
