package dev.herd.tokenizer;

import dev.herd.HerdException;
import dev.herd.format.FileText;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE with ranked merges (Llama 3), as llama.cpp's BPE tokenizer: the text is cut by the Llama 3
 * pre-tokenizer, each word's UTF-8 bytes are spelled with GPT-2's printable byte characters, a word that is a token
 * as a whole is taken as is (llama.cpp's ignore_merges), otherwise adjacent symbols merge lowest rank first.
 */
final class BpeTokenizer extends VocabTokenizer {
    private static final int CACHE_LIMIT = 100_000;
    /** GPT-2's byte to printable character mapping, and back. */
    private static final char[] BYTE_CHAR = new char[256];
    private static final int[] CHAR_BYTE = new int[324];

    static {
        for (int b = 0, extra = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
            BYTE_CHAR[b] = (char) (printable ? b : 256 + extra++);
            CHAR_BYTE[BYTE_CHAR[b]] = b;
        }
    }

    private final Merges merges;
    private final int[] charIds = new int[256];
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    BpeTokenizer(Vocabulary vocab, String[] merges) {
        super(vocab);
        this.merges = new Merges(vocab, merges);
        for (int b = 0; b < 256; b++) charIds[b] = vocab.id(String.valueOf(BYTE_CHAR[b]));
    }

    @Override
    void encodeText(String text, boolean afterSpecial, Ids out) {
        for (String word : Llama3Splitter.split(text)) {
            int[] ids = cache.get(word);
            if (ids == null) {
                ids = encodeWord(word.getBytes(StandardCharsets.UTF_8));
                if (cache.size() >= CACHE_LIMIT) cache.clear();
                cache.put(word, ids);
            }
            out.addAll(ids);
        }
    }

    private int[] encodeWord(byte[] utf8) {
        StringBuilder spelled = new StringBuilder(utf8.length);
        for (byte b : utf8) spelled.append(BYTE_CHAR[b & 0xff]);
        int whole = vocab.id(spelled.toString());
        if (whole >= 0) return new int[]{whole};
        int count = utf8.length;
        // one symbol per byte (llama.cpp splits the spelled word into its characters), as a linked list of ids
        int[] id = new int[count], next = new int[count], prev = new int[count];
        for (int i = 0; i < count; i++) {
            id[i] = charIds[utf8[i] & 0xff];
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }
        boolean[] dead = new boolean[count];
        // entries are rank << 32 | left: lowest rank first, then leftmost, as llama.cpp orders them
        PriorityQueue<Long> queue = new PriorityQueue<>();
        for (int i = 1; i < count; i++) offer(queue, id, i - 1, i);
        while (!queue.isEmpty()) {
            long e = queue.poll();
            int left = (int) e, rank = (int) (e >>> 32), right = next[left];
            if (dead[left] || right < 0 || merges.rank(id[left], id[right]) != rank) continue; // stale
            id[left] = merges.result(rank);
            dead[right] = true;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            if (prev[left] >= 0) offer(queue, id, prev[left], left);
            if (next[left] >= 0) offer(queue, id, left, next[left]);
        }
        Ids out = new Ids();
        for (int i = 0; i >= 0; i = next[i]) {
            if (id[i] >= 0) out.add(id[i]); // a byte character missing from the vocabulary is dropped, as in llama.cpp
        }
        return out.toArray();
    }

    private void offer(PriorityQueue<Long> queue, int[] id, int left, int right) {
        int rank = merges.rank(id[left], id[right]);
        if (rank >= 0) queue.add((long) rank << 32 | left);
    }

    @Override
    public byte[] bytes(int id) {
        String token = vocab.tokens()[id];
        return switch (vocab.types()[id]) {
            case Vocabulary.NORMAL -> {
                ByteArrayOutputStream out = new ByteArrayOutputStream(token.length());
                for (int i = 0; i < token.length(); i++) {
                    char c = token.charAt(i);
                    if (c < CHAR_BYTE.length) out.write(CHAR_BYTE[c]);
                }
                yield out.toByteArray();
            }
            case Vocabulary.USER_DEFINED -> token.getBytes(StandardCharsets.UTF_8);
            default -> new byte[0];
        };
    }

    /** Merge ranks keyed by the pair of token ids, in an open-addressing table (280k merges for Llama 3). */
    private static final class Merges {
        private final long[] keys;
        private final int[] ranks;
        private final int[] results;
        private final int mask;

        Merges(Vocabulary vocab, String[] merges) {
            int capacity = Integer.highestOneBit(Math.max(merges.length, 1) * 2) << 1;
            keys = new long[capacity];
            Arrays.fill(keys, -1);
            ranks = new int[capacity];
            results = new int[merges.length];
            mask = capacity - 1;
            for (int rank = 0; rank < merges.length; rank++) {
                String m = merges[rank];
                int space = m.indexOf(' ', 1);
                if (space < 0) throw new HerdException("tokenizer merge " + rank + " " + FileText.quote(m) + " is not two tokens");
                int a = vocab.id(m.substring(0, space)), b = vocab.id(m.substring(space + 1));
                int ab = vocab.id(m.substring(0, space) + m.substring(space + 1));
                results[rank] = ab;
                if (a < 0 || b < 0 || ab < 0) continue;
                long key = key(a, b);
                int slot = slot(key);
                if (keys[slot] == -1) { // an earlier duplicate keeps its lower rank
                    keys[slot] = key;
                    ranks[slot] = rank;
                }
            }
        }

        private static long key(int a, int b) {
            return (long) a << 32 | (b & 0xffffffffL);
        }

        private int slot(long key) {
            int h = (int) (key ^ (key >>> 29) ^ (key >>> 41)) * 0x9e3779b9;
            int s = h & mask;
            while (keys[s] != -1 && keys[s] != key) s = (s + 1) & mask;
            return s;
        }

        int rank(int a, int b) {
            if (a < 0 || b < 0) return -1;
            int s = slot(key(a, b));
            return keys[s] == -1 ? -1 : ranks[s];
        }

        int result(int rank) {
            return results[rank];
        }
    }
}
