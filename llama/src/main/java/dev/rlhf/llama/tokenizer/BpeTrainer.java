package dev.rlhf.llama.tokenizer;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.stream.Stream;

/**
 * Trains a byte-level BPE vocabulary, digits split as in the LLaMA 2 recipe, and writes it as a
 * Hugging Face tokenizer.json.
 */
public final class BpeTrainer {

    /** Specials plus one symbol per byte: the smallest vocabulary that can encode any text. */
    public static final int MIN_VOCAB_SIZE = SpecialTokens.COUNT + 256;

    /** Reports training progress: learned tokens so far, and how many the target size needs. */
    @FunctionalInterface
    public interface ProgressListener {
        void report(int merges, int total);
    }

    private final int vocabSize;
    private final ProgressListener progress;

    private List<String> vocab;
    private List<String> merges;

    /** A trainer for a vocabulary of {@code vocabSize} tokens, with no progress reports. */
    public BpeTrainer(int vocabSize) {
        this(vocabSize, (merges, total) -> {});
    }

    /** A trainer for a vocabulary of {@code vocabSize} tokens that reports progress to {@code progress}. */
    public BpeTrainer(int vocabSize, ProgressListener progress) {
        if (vocabSize < MIN_VOCAB_SIZE) {
            throw new IllegalArgumentException(
                    "vocabSize must be at least "
                            + MIN_VOCAB_SIZE
                            + " ("
                            + SpecialTokens.COUNT
                            + " special tokens + 256 byte symbols), got "
                            + vocabSize);
        }
        this.vocabSize = vocabSize;
        this.progress = Objects.requireNonNull(progress, "progress");
    }

    /** Trains on a stream of texts; see {@link #train(Iterable)}. */
    public BpeTrainer train(Stream<String> corpus) {
        return train((Iterable<String>) corpus::iterator);
    }

    /**
     * Trains on the given texts, replacing any earlier result, and returns this trainer.
     *
     * <p>Vocabulary layout: the {@link SpecialTokens} at ids 0..3, the 256 byte symbols in byte
     * order, then one token per learned merge. Each step merges the most frequent adjacent pair; ties
     * go to the lexicographically smallest (left, right) pair of token strings, so the same corpus
     * always gives the same file. Words are counted once up front and pair counts are updated only
     * for the words a merge touches, so a merge costs time proportional to those words, not to the
     * corpus. If the corpus runs out of pairs first, the vocabulary stays smaller than requested.
     */
    public BpeTrainer train(Iterable<String> corpus) {
        Map<String, long[]> wordCounts = new HashMap<>();
        for (String text : corpus) {
            ByteLevelPreTokenizer.split(text, word -> wordCounts.computeIfAbsent(word, w -> new long[1])[0]++);
        }
        new Merger(wordCounts).run();
        return this;
    }

    /** Token strings in id order; throws if {@link #train} has not run. */
    public List<String> vocab() {
        requireTrained();
        return Collections.unmodifiableList(vocab);
    }

    /** Merges in the order learned, as "left right" strings. */
    public List<String> merges() {
        requireTrained();
        return Collections.unmodifiableList(merges);
    }

    /**
     * Writes {@code tokenizer.json} and {@code tokenizer_config.json} into {@code dir}, creating it if
     * needed.
     *
     * <p>The post-processor is the LLaMA one (TemplateProcessing that puts {@code <s>} in front), so
     * Hugging Face tools that add special tokens see the LLaMA convention. {@link LlamaTokenizer}
     * loads with special tokens off and adds BOS itself, which makes it behave the same for our files
     * and for real LLaMA files.
     */
    public void writeTokenizerJson(Path dir) throws IOException {
        requireTrained();
        Gson gson = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();
        Files.createDirectories(dir);
        Files.writeString(
                dir.resolve("tokenizer.json"), gson.toJson(tokenizerJson()) + "\n", StandardCharsets.UTF_8);
        Files.writeString(
                dir.resolve("tokenizer_config.json"), gson.toJson(tokenizerConfigJson()) + "\n", StandardCharsets.UTF_8);
    }

    private void requireTrained() {
        if (vocab == null) {
            throw new IllegalStateException("train() has not been called");
        }
    }

    private JsonObject tokenizerJson() {
        JsonObject root = new JsonObject();
        root.addProperty("version", "1.0");
        root.add("truncation", JsonNull.INSTANCE);
        root.add("padding", JsonNull.INSTANCE);

        JsonArray added = new JsonArray();
        for (int id = 0; id < SpecialTokens.COUNT; id++) {
            JsonObject token = new JsonObject();
            token.addProperty("id", id);
            token.addProperty("content", SpecialTokens.ALL.get(id));
            token.addProperty("single_word", false);
            token.addProperty("lstrip", false);
            token.addProperty("rstrip", false);
            token.addProperty("normalized", false);
            token.addProperty("special", true);
            added.add(token);
        }
        root.add("added_tokens", added);
        root.add("normalizer", JsonNull.INSTANCE);

        JsonObject digits = new JsonObject();
        digits.addProperty("type", "Digits");
        digits.addProperty("individual_digits", true);
        JsonArray preTokenizers = new JsonArray();
        preTokenizers.add(digits);
        preTokenizers.add(byteLevel());
        JsonObject preTokenizer = new JsonObject();
        preTokenizer.addProperty("type", "Sequence");
        preTokenizer.add("pretokenizers", preTokenizers);
        root.add("pre_tokenizer", preTokenizer);

        root.add("post_processor", bosTemplate());
        root.add("decoder", byteLevel());

        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        model.add("dropout", JsonNull.INSTANCE);
        model.add("unk_token", JsonNull.INSTANCE);
        model.add("continuing_subword_prefix", JsonNull.INSTANCE);
        model.add("end_of_word_suffix", JsonNull.INSTANCE);
        model.addProperty("fuse_unk", false);
        // Every byte has a symbol, so no input can fall outside the vocabulary.
        model.addProperty("byte_fallback", false);
        JsonObject vocabJson = new JsonObject();
        for (int id = 0; id < vocab.size(); id++) {
            vocabJson.addProperty(vocab.get(id), id);
        }
        model.add("vocab", vocabJson);
        JsonArray mergesJson = new JsonArray();
        merges.forEach(mergesJson::add);
        model.add("merges", mergesJson);
        root.add("model", model);
        return root;
    }

    private static JsonObject byteLevel() {
        JsonObject byteLevel = new JsonObject();
        byteLevel.addProperty("type", "ByteLevel");
        byteLevel.addProperty("add_prefix_space", false);
        byteLevel.addProperty("trim_offsets", true);
        byteLevel.addProperty("use_regex", true);
        return byteLevel;
    }

    private static JsonObject bosTemplate() {
        JsonObject processor = new JsonObject();
        processor.addProperty("type", "TemplateProcessing");
        JsonArray single = new JsonArray();
        single.add(templatePiece("SpecialToken", SpecialTokens.BOS, 0));
        single.add(templatePiece("Sequence", "A", 0));
        processor.add("single", single);
        JsonArray pair = single.deepCopy();
        pair.add(templatePiece("SpecialToken", SpecialTokens.BOS, 1));
        pair.add(templatePiece("Sequence", "B", 1));
        processor.add("pair", pair);
        JsonObject bos = new JsonObject();
        bos.addProperty("id", SpecialTokens.BOS);
        JsonArray ids = new JsonArray();
        ids.add(SpecialTokens.BOS_ID);
        bos.add("ids", ids);
        JsonArray tokens = new JsonArray();
        tokens.add(SpecialTokens.BOS);
        bos.add("tokens", tokens);
        JsonObject specials = new JsonObject();
        specials.add(SpecialTokens.BOS, bos);
        processor.add("special_tokens", specials);
        return processor;
    }

    private static JsonObject templatePiece(String kind, String id, int typeId) {
        JsonObject body = new JsonObject();
        body.addProperty("id", id);
        body.addProperty("type_id", typeId);
        JsonObject piece = new JsonObject();
        piece.add(kind, body);
        return piece;
    }

    private static JsonObject tokenizerConfigJson() {
        JsonObject config = new JsonObject();
        config.addProperty("tokenizer_class", "PreTrainedTokenizerFast");
        config.addProperty("bos_token", SpecialTokens.BOS);
        config.addProperty("eos_token", SpecialTokens.EOS);
        config.addProperty("pad_token", SpecialTokens.PAD);
        config.addProperty("sep_token", SpecialTokens.SEP);
        config.add("unk_token", JsonNull.INSTANCE);
        config.addProperty("add_bos_token", true);
        config.addProperty("add_eos_token", false);
        // Byte-level decoding is exact; "cleaning" spaces before punctuation would break round trips.
        config.addProperty("clean_up_tokenization_spaces", false);
        return config;
    }

    /** Counts of one adjacent symbol pair, and the words that may contain it. */
    private static final class Pair {
        final int left;
        final int right;
        long count;
        /** Indices of words that contained the pair when it was counted; may hold stale entries. */
        int[] words = new int[4];
        int wordCount;
        int lastWord = -1;
        /** Merge step at which count was last snapshotted, and the snapshot. */
        int touchedAt = -1;
        long countBefore;

        Pair(int left, int right) {
            this.left = left;
            this.right = right;
        }

        void addWord(int word) {
            if (lastWord == word) {
                return;
            }
            if (wordCount == words.length) {
                words = Arrays.copyOf(words, wordCount * 2);
            }
            words[wordCount++] = word;
            lastWord = word;
        }
    }

    /** A queued pair with the count it had when queued; stale if the count has changed since. */
    private record Candidate(Pair pair, long count) {}

    /** One training run over counted words. */
    private final class Merger {
        private final int[][] words;
        private final int[] lengths;
        private final long[] freqs;
        private final int[] seenAt;
        private final List<String> tokens = new ArrayList<>();
        private final Map<String, Integer> ids = new HashMap<>();
        private final List<String> learned = new ArrayList<>();
        private final Map<Long, Pair> pairs = new HashMap<>();
        private final List<Pair> touched = new ArrayList<>();
        private final PriorityQueue<Candidate> queue;
        private int step;

        Merger(Map<String, long[]> wordCounts) {
            for (String special : SpecialTokens.ALL) {
                addToken(special);
            }
            int[] byteIds = new int[256];
            for (int b = 0; b < 256; b++) {
                byteIds[b] = addToken(ByteLevelPreTokenizer.byteSymbol(b));
            }
            // Sorted so that word indices, and with them all internal iteration orders, are reproducible.
            List<String> sorted = new ArrayList<>(wordCounts.keySet());
            Collections.sort(sorted);
            int n = sorted.size();
            words = new int[n][];
            lengths = new int[n];
            freqs = new long[n];
            seenAt = new int[n];
            Arrays.fill(seenAt, -1);
            for (int w = 0; w < n; w++) {
                String word = sorted.get(w);
                int[] symbols = new int[word.length()];
                for (int k = 0; k < symbols.length; k++) {
                    symbols[k] = byteIds[ByteLevelPreTokenizer.byteOf(word.charAt(k))];
                }
                words[w] = symbols;
                lengths[w] = symbols.length;
                freqs[w] = wordCounts.get(word)[0];
            }
            Comparator<Candidate> order =
                    Comparator.comparingLong((Candidate c) -> -c.count())
                            .thenComparing(c -> tokens.get(c.pair().left))
                            .thenComparing(c -> tokens.get(c.pair().right));
            queue = new PriorityQueue<>(order);
        }

        void run() {
            for (int w = 0; w < words.length; w++) {
                addPairs(w);
            }
            touched.clear();
            for (Pair pair : pairs.values()) {
                queue.add(new Candidate(pair, pair.count));
            }
            int total = vocabSize - MIN_VOCAB_SIZE;
            int reportEvery = Math.max(1, total / 100);
            while (tokens.size() < vocabSize && !queue.isEmpty()) {
                Candidate next = queue.poll();
                Pair pair = next.pair();
                if (next.count() != pair.count || pair.count <= 0) {
                    continue;
                }
                merge(pair);
                int done = tokens.size() - MIN_VOCAB_SIZE;
                if (done % reportEvery == 0) {
                    progress.report(done, total);
                }
            }
            vocab = List.copyOf(tokens);
            merges = List.copyOf(learned);
            progress.report(tokens.size() - MIN_VOCAB_SIZE, total);
        }

        private int addToken(String token) {
            Integer existing = ids.get(token);
            if (existing != null) {
                // Two merges can spell the same string ("ab"+"c", "a"+"bc"); both map to one id, as in HF.
                return existing;
            }
            int id = tokens.size();
            tokens.add(token);
            ids.put(token, id);
            return id;
        }

        private void merge(Pair pair) {
            String left = tokens.get(pair.left);
            String right = tokens.get(pair.right);
            int merged = addToken(left + right);
            learned.add(left + " " + right);
            step++;
            touched.clear();
            // Copy: updating counts below appends to the lists of pairs, this one included.
            int[] candidates = Arrays.copyOf(pair.words, pair.wordCount);
            for (int w : candidates) {
                if (seenAt[w] == step || !contains(w, pair.left, pair.right)) {
                    continue;
                }
                seenAt[w] = step;
                removePairs(w);
                replace(w, pair.left, pair.right, merged);
                addPairs(w);
            }
            for (Pair changed : touched) {
                if (changed.count <= 0) {
                    pairs.remove(key(changed.left, changed.right));
                } else if (changed.count != changed.countBefore) {
                    queue.add(new Candidate(changed, changed.count));
                }
            }
        }

        private boolean contains(int w, int left, int right) {
            int[] symbols = words[w];
            for (int k = 0; k + 1 < lengths[w]; k++) {
                if (symbols[k] == left && symbols[k + 1] == right) {
                    return true;
                }
            }
            return false;
        }

        /** Left-to-right, non-overlapping replacement, as HF applies a merge within a word. */
        private void replace(int w, int left, int right, int merged) {
            int[] symbols = words[w];
            int out = 0;
            int k = 0;
            while (k < lengths[w]) {
                if (k + 1 < lengths[w] && symbols[k] == left && symbols[k + 1] == right) {
                    symbols[out++] = merged;
                    k += 2;
                } else {
                    symbols[out++] = symbols[k++];
                }
            }
            lengths[w] = out;
        }

        private void addPairs(int w) {
            int[] symbols = words[w];
            for (int k = 0; k + 1 < lengths[w]; k++) {
                long key = key(symbols[k], symbols[k + 1]);
                Pair pair = pairs.get(key);
                if (pair == null) {
                    pair = new Pair(symbols[k], symbols[k + 1]);
                    pairs.put(key, pair);
                }
                touch(pair);
                pair.count += freqs[w];
                pair.addWord(w);
            }
        }

        private void removePairs(int w) {
            int[] symbols = words[w];
            for (int k = 0; k + 1 < lengths[w]; k++) {
                Pair pair = pairs.get(key(symbols[k], symbols[k + 1]));
                touch(pair);
                pair.count -= freqs[w];
            }
        }

        private void touch(Pair pair) {
            if (pair.touchedAt != step) {
                pair.touchedAt = step;
                pair.countBefore = pair.count;
                touched.add(pair);
            }
        }

        private long key(int left, int right) {
            return ((long) left << 32) | (right & 0xFFFFFFFFL);
        }
    }
}
