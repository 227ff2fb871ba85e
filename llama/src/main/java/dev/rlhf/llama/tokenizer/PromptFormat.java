package dev.rlhf.llama.tokenizer;

/**
 * The token layout shared by SFT and generation (LLaMA 2 §3.1: a special token separates prompt and answer):
 * a prompt is {@code <s> prompt <sep>} and the model answers until {@code </s>}. Training packs exactly this
 * layout, so a fine-tuned model sees the same context at sampling time.
 */
public final class PromptFormat {
    private PromptFormat() {}

    /** {@code <s> prompt <sep>} as ids. */
    public static int[] chatPrompt(LlamaTokenizer tokenizer, String prompt) {
        int[] body = tokenizer.encode(prompt);
        int[] ids = new int[body.length + 2];
        ids[0] = tokenizer.bosId();
        System.arraycopy(body, 0, ids, 1, body.length);
        ids[ids.length - 1] = tokenizer.sepId();
        return ids;
    }

    /** {@code <s> text}: plain continuation, for pre-trained models. */
    public static int[] rawPrompt(LlamaTokenizer tokenizer, String text) {
        return tokenizer.encodeWithBos(text);
    }
}
