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

    /** {@code <s> prompt <sep> response </s>}: what reward models score (the whole exchange, read at </s>). */
    public static int[] exchange(LlamaTokenizer tokenizer, String prompt, String response) {
        return exchange(chatPrompt(tokenizer, prompt), tokenizer.encode(response), tokenizer.eosId());
    }

    /** Token-level form of {@link #exchange(LlamaTokenizer, String, String)}. */
    public static int[] exchange(int[] chatPromptIds, int[] responseIds, int eosId) {
        int[] ids = new int[chatPromptIds.length + responseIds.length + 1];
        System.arraycopy(chatPromptIds, 0, ids, 0, chatPromptIds.length);
        System.arraycopy(responseIds, 0, ids, chatPromptIds.length, responseIds.length);
        ids[ids.length - 1] = eosId;
        return ids;
    }

    /** {@code <s> text}: plain continuation, for pre-trained models. */
    public static int[] rawPrompt(LlamaTokenizer tokenizer, String text) {
        return tokenizer.encodeWithBos(text);
    }
}
