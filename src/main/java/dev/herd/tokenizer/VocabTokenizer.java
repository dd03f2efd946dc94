package dev.herd.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/** What both tokenizer kinds share: the vocabulary and the cutting of text at special-token texts. */
abstract sealed class VocabTokenizer implements Tokenizer permits SpmTokenizer, BpeTokenizer {
    final Vocabulary vocab;

    VocabTokenizer(Vocabulary vocab) {
        this.vocab = vocab;
    }

    /** Appends the ids of a piece of text that holds no special token. */
    abstract void encodeText(String text, boolean afterSpecial, Ids out);

    @Override
    public int[] encode(String text) {
        // like llama.cpp, user-defined tokens are matched even when control tokens are not
        return encode(text, vocab.userDefined());
    }

    @Override
    public int[] encodeWithSpecials(String text) {
        return encode(text, vocab.controls());
    }

    /** Splits at the leftmost, longest special text; the rest is plain text. */
    private int[] encode(String text, List<String> specials) {
        Ids out = new Ids();
        boolean afterSpecial = true;
        int start = 0;
        for (int i = 0; i < text.length(); ) {
            String special = specials.isEmpty() ? null : specialAt(text, i, specials);
            if (special == null) {
                i++;
                continue;
            }
            if (i > start) encodeText(text.substring(start, i), afterSpecial, out);
            out.add(vocab.id(special));
            afterSpecial = true;
            i += special.length();
            start = i;
        }
        if (start < text.length()) encodeText(text.substring(start), afterSpecial, out);
        return out.toArray();
    }

    private static String specialAt(String text, int i, List<String> specials) {
        for (String s : specials) {
            if (text.startsWith(s, i)) return s;
        }
        return null;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int id : ids) out.writeBytes(bytes(id));
        return new String(out.toByteArray(), StandardCharsets.UTF_8);
    }

    @Override
    public String piece(int id) {
        return vocab.tokens()[id];
    }

    @Override
    public int id(String piece) {
        return vocab.id(piece);
    }

    @Override
    public int bos() {
        return vocab.bos();
    }

    @Override
    public Set<Integer> eos() {
        return vocab.eos();
    }

    @Override
    public boolean addBos() {
        return vocab.addBos();
    }

    @Override
    public int vocabSize() {
        return vocab.tokens().length;
    }

    /** A growable int array. */
    static final class Ids {
        private int[] a = new int[64];
        private int n;

        void add(int v) {
            if (n == a.length) a = Arrays.copyOf(a, 2 * n);
            a[n++] = v;
        }

        void addAll(int[] v) {
            for (int x : v) add(x);
        }

        int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }
}
