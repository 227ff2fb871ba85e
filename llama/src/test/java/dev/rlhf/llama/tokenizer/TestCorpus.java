package dev.rlhf.llama.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Seeded text generator for tokenizer tests: English, numbers, CJK, emoji and awkward white space. */
final class TestCorpus {

    /** Appears in most texts, so training must turn it into a single token. */
    static final String FREQUENT_WORD = "tokenizer";

    private static final String[] WORDS = {
        "the", "model", "reward", "policy", "answer", "prompt", "human", "preference", "safety",
        "helpful", "training", "gradient", "value", "sample", "token", "sequence", "language",
        "learning", "is", "a", "of", "and", "to", "in", "for", "with", "that", "we", "it's", "don't",
        "café", "naïve", "résumé", "Zoë", "über", "Ελλάδα", "Москва"
    };
    private static final String[] CJK = {"中文", "模型", "奖励", "学习", "数据", "语言", "日本語", "こんにちは", "한국어"};
    // The incremental decoder test uses 世, 界 and 🎉; they are left out so they stay multi-token.
    private static final String[] EMOJI = {"😀", "🚀", "🔥", "👍", "❤️", "🙂"};
    private static final String[] GAPS = {" ", " ", " ", "  ", "\t", "\n", "\r\n", "\u0001", " \u0007"};

    private TestCorpus() {}

    /** Random syllables, so the corpus has more distinct pairs than any vocabulary the tests ask for. */
    private static String inventedWord(Random random) {
        String consonants = "bcdfghjklmnprstvwz";
        String vowels = "aeiou";
        StringBuilder word = new StringBuilder();
        int syllables = 1 + random.nextInt(4);
        for (int s = 0; s < syllables; s++) {
            word.append(consonants.charAt(random.nextInt(consonants.length())));
            word.append(vowels.charAt(random.nextInt(vowels.length())));
        }
        return word.toString();
    }

    static List<String> generate(long seed, int texts) {
        Random random = new Random(seed);
        List<String> corpus = new ArrayList<>(texts);
        for (int t = 0; t < texts; t++) {
            StringBuilder text = new StringBuilder();
            int length = 20 + random.nextInt(40);
            for (int k = 0; k < length; k++) {
                int kind = random.nextInt(20);
                if (kind < 3) {
                    text.append(FREQUENT_WORD);
                } else if (kind < 11) {
                    text.append(WORDS[random.nextInt(WORDS.length)]);
                } else if (kind < 13) {
                    text.append(inventedWord(random));
                } else if (kind < 15) {
                    text.append(random.nextInt(100_000));
                } else if (kind < 17) {
                    text.append(CJK[random.nextInt(CJK.length)]);
                } else if (kind < 18) {
                    text.append(EMOJI[random.nextInt(EMOJI.length)]);
                } else {
                    text.append(".,!?;:()\"'-".charAt(random.nextInt(11)));
                }
                text.append(random.nextInt(6) == 0 ? GAPS[random.nextInt(GAPS.length)] : " ");
            }
            corpus.add(text.toString());
        }
        return corpus;
    }
}
