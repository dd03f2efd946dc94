package dev.herd.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * The Llama 3 pre-tokenizer, hand-written like llama.cpp's, for the regex
 * {@code (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+}.
 * Works on code points; whitespace is Unicode White_Space, as in llama.cpp's tables (java.util.regex's \s is ASCII).
 */
final class Llama3Splitter {
    private Llama3Splitter() {}

    static List<String> split(String text) {
        int[] cp = text.codePoints().toArray();
        int n = cp.length;
        List<String> words = new ArrayList<>();
        int pos = 0;
        while (pos < n) {
            int start = pos;
            pos = end(cp, pos);
            words.add(new String(cp, start, pos - start));
        }
        return words;
    }

    /** End of the word that starts at pos. */
    private static int end(int[] cp, int pos) {
        int n = cp.length;
        int c = cp[pos];
        if (c == '\'' && pos + 1 < n) {
            int a = lower(cp[pos + 1]);
            if (a == 's' || a == 't' || a == 'm' || a == 'd') return pos + 2;
            if (pos + 2 < n) {
                int b = lower(cp[pos + 2]);
                if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return pos + 3;
            }
        }
        if (c != '\r' && c != '\n' && !number(c) && (letter(c) || (pos + 1 < n && letter(cp[pos + 1])))) {
            int p = pos + 1;
            while (p < n && letter(cp[p])) p++;
            return p;
        }
        if (number(c)) {
            int p = pos + 1;
            while (p < n && p < pos + 3 && number(cp[p])) p++;
            return p;
        }
        int q = c == ' ' ? pos + 1 : pos;
        if (q < n && other(cp[q])) {
            int p = q + 1;
            while (p < n && other(cp[p])) p++;
            while (p < n && (cp[p] == '\r' || cp[p] == '\n')) p++;
            return p;
        }
        int spaces = 0, lastNewline = -1;
        while (pos + spaces < n && space(cp[pos + spaces])) {
            if (cp[pos + spaces] == '\r' || cp[pos + spaces] == '\n') lastNewline = pos + spaces + 1;
            spaces++;
        }
        if (lastNewline > 0) return lastNewline;                            // \s*[\r\n]+
        if (spaces > 1 && pos + spaces < n) return pos + spaces - 1;      // \s+(?!\S): leave one for the next word
        if (spaces > 0) return pos + spaces;                                // \s+
        return pos + 1;
    }

    private static int lower(int c) {
        return Character.toLowerCase(c);
    }

    private static boolean letter(int c) {
        return Character.isLetter(c);
    }

    private static boolean number(int c) {
        return switch (Character.getType(c)) {
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> true;
            default -> false;
        };
    }

    /** Unicode White_Space, the set llama.cpp uses for \s. */
    private static boolean space(int c) {
        return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
    }

    private static boolean other(int c) {
        return !space(c) && !letter(c) && !number(c);
    }
}
