package dev.rlhf.llama.tokenizer;

import java.util.Arrays;

/**
 * Turns generated token ids, fed one at a time, into the text each one completes, never splitting
 * a character.
 */
public final class IncrementalDecoder {

    /**
     * Prompt tokens kept as left context: SentencePiece's first-space rule needs one, a few spare
     * cover decoders that look further back, and more would only make each step slower.
     */
    private static final int PROMPT_CONTEXT = 5;

    private final LlamaTokenizer tokenizer;
    private int[] ids = new int[64];
    private int size;
    /** Start of the window decoded at each step. */
    private int prefixOffset;
    /** End of the text already returned. */
    private int readOffset;

    /** A decoder for a sequence that starts with the first id fed. */
    public IncrementalDecoder(LlamaTokenizer tokenizer) {
        this(tokenizer, new int[0]);
    }

    /** A decoder for tokens that continue {@code promptIds}; the prompt's own text is not returned. */
    public IncrementalDecoder(LlamaTokenizer tokenizer, int[] promptIds) {
        this.tokenizer = tokenizer;
        for (int k = Math.max(0, promptIds.length - PROMPT_CONTEXT); k < promptIds.length; k++) {
            append(promptIds[k]);
        }
        readOffset = size;
    }

    /**
     * Adds one id and returns the text it completes: possibly empty, never a broken character.
     *
     * <p>A token can end inside a multi-byte character (byte-level BPE, or LLaMA's byte-fallback
     * tokens). So each step decodes a short window of recent tokens without and with the new ones;
     * the difference is new text, held back while it ends in U+FFFD, which the decoder emits for an
     * incomplete character. Decoding a window rather than single tokens also keeps decoder rules that
     * depend on position intact, such as SentencePiece dropping only the first space of a sequence.
     * All returned pieces plus {@link #flush()} concatenate to {@link LlamaTokenizer#decode} of the
     * ids fed.
     */
    public String next(int id) {
        append(id);
        String prefix = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset));
        String text = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, size));
        if (text.length() > prefix.length() && !text.endsWith("\uFFFD")) {
            prefixOffset = readOffset;
            readOffset = size;
            return text.substring(prefix.length());
        }
        return "";
    }

    /** Returns whatever is still held back, replacement characters included; call at end of sequence. */
    public String flush() {
        String prefix = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset));
        String text = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, size));
        prefixOffset = readOffset;
        readOffset = size;
        return text.length() > prefix.length() ? text.substring(prefix.length()) : "";
    }

    private void append(int id) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
        }
        ids[size++] = id;
    }
}
