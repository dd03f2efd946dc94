package dev.herd.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
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
        return encode(text, vocab.specials());
    }

    /**
     * Cuts the text at special-token texts as llama.cpp does (each special, longest first, is cut out of all text
     * still plain), then tokenizes the plain pieces, telling each whether a special token came before it.
     */
    private int[] encode(String text, List<String> specials) {
        List<Object> fragments = new ArrayList<>(); // plain String or special Integer id
        if (!text.isEmpty()) fragments.add(text);
        for (String special : specials) {
            for (int f = 0; f < fragments.size(); f++) {
                if (!(fragments.get(f) instanceof String plain) || !plain.contains(special)) continue;
                List<Object> parts = new ArrayList<>();
                int from = 0;
                for (int at = plain.indexOf(special); at >= 0; at = plain.indexOf(special, from)) {
                    if (at > from) parts.add(plain.substring(from, at));
                    parts.add(vocab.id(special));
                    from = at + special.length();
                }
                if (from < plain.length()) parts.add(plain.substring(from));
                fragments.remove(f);
                fragments.addAll(f, parts);
                f += parts.size() - 1;
            }
        }
        Ids out = new Ids();
        boolean afterSpecial = true;
        for (Object fragment : fragments) {
            if (fragment instanceof String plain) {
                encodeText(plain, afterSpecial, out);
                afterSpecial = false;
            } else {
                out.add((Integer) fragment);
                afterSpecial = true;
            }
        }
        return out.toArray();
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
