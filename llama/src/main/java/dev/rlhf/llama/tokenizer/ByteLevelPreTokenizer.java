package dev.rlhf.llama.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Java twin of the Digits + ByteLevel pre-tokenizer we write into tokenizer.json, so training
 * sees the same words as the Hugging Face loader.
 */
final class ByteLevelPreTokenizer {

    /** The GPT-2 split pattern that HF's ByteLevel pre-tokenizer applies when use_regex is true. */
    private static final Pattern GPT2_SPLIT =
            Pattern.compile(
                    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
                    // HF's regex engine treats \s as Unicode white space; Java's default is ASCII only.
                    Pattern.UNICODE_CHARACTER_CLASS);

    private static final char[] BYTE_TO_CHAR = byteToChar();

    /** Inverse of BYTE_TO_CHAR; every mapped char is below U+0144. */
    private static final int[] CHAR_TO_BYTE = charToByte();

    private ByteLevelPreTokenizer() {}

    /**
     * GPT-2's byte-to-unicode table: printable Latin-1 bytes map to themselves, the other 68 bytes
     * to U+0100 onwards, so every byte is a visible, non-space character in vocab and merges.
     */
    private static char[] byteToChar() {
        char[] table = new char[256];
        int shifted = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char) b : (char) (256 + shifted++);
        }
        return table;
    }

    private static int[] charToByte() {
        int[] table = new int[0x144];
        Arrays.fill(table, -1);
        for (int b = 0; b < 256; b++) {
            table[BYTE_TO_CHAR[b]] = b;
        }
        return table;
    }

    /** The vocabulary symbol of one byte. */
    static String byteSymbol(int b) {
        return String.valueOf(BYTE_TO_CHAR[b & 0xFF]);
    }

    /** Index of a byte symbol in 0..255 order. */
    static int byteOf(char symbol) {
        int b = symbol < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[symbol] : -1;
        if (b < 0) {
            throw new IllegalArgumentException("not a byte symbol: " + symbol);
        }
        return b;
    }

    /** Splits text into words and hands each one over in byte-level form (one char per UTF-8 byte). */
    static void split(String text, Consumer<String> words) {
        Matcher matcher = GPT2_SPLIT.matcher(text);
        int pieceStart = 0;
        int i = 0;
        while (i < text.length()) {
            int cp = text.codePointAt(i);
            int next = i + Character.charCount(cp);
            if (isNumeric(cp)) {
                splitPiece(text, matcher, pieceStart, i, words);
                words.accept(toByteLevel(text, i, next));
                pieceStart = next;
            }
            i = next;
        }
        splitPiece(text, matcher, pieceStart, text.length(), words);
    }

    /**
     * Rust's char::is_numeric, which the Digits pre-tokenizer uses: any Nd, Nl or No code point is
     * isolated, not only ASCII digits.
     */
    private static boolean isNumeric(int cp) {
        int type = Character.getType(cp);
        return type == Character.DECIMAL_DIGIT_NUMBER
                || type == Character.LETTER_NUMBER
                || type == Character.OTHER_NUMBER;
    }

    private static void splitPiece(String text, Matcher matcher, int start, int end, Consumer<String> words) {
        if (start >= end) {
            return;
        }
        // Opaque region bounds: the (?!\S) look-ahead must not see past the piece, as in HF.
        matcher.region(start, end);
        int gapStart = start;
        while (matcher.find()) {
            if (matcher.start() > gapStart) {
                words.accept(toByteLevel(text, gapStart, matcher.start()));
            }
            words.accept(toByteLevel(text, matcher.start(), matcher.end()));
            gapStart = matcher.end();
        }
        if (gapStart < end) {
            words.accept(toByteLevel(text, gapStart, end));
        }
    }

    private static String toByteLevel(String text, int start, int end) {
        byte[] utf8 = text.substring(start, end).getBytes(StandardCharsets.UTF_8);
        char[] symbols = new char[utf8.length];
        for (int k = 0; k < utf8.length; k++) {
            symbols[k] = BYTE_TO_CHAR[utf8[k] & 0xFF];
        }
        return new String(symbols);
    }
}
