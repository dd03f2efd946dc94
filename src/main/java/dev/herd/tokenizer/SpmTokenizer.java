package dev.herd.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.PriorityQueue;

/**
 * SentencePiece BPE with scores (Llama 2), step for step as llama.cpp's SPM tokenizer: spaces become "▁", a space is
 * put in front of text that starts the prompt or follows a special token, adjacent symbols are merged highest score
 * first (leftmost on ties) as long as the merge is a token, and symbols that are no token fall back to byte tokens.
 */
final class SpmTokenizer extends VocabTokenizer {
    private static final byte[] NOTHING = {};
    private final float[] scores;
    private final boolean addSpacePrefix;
    private final int[] byteIds = new int[256];

    SpmTokenizer(Vocabulary vocab, float[] scores, boolean addSpacePrefix) {
        super(vocab);
        this.scores = scores;
        this.addSpacePrefix = addSpacePrefix;
        int unknown = 0; // the first token of type unknown, else id 0
        for (int i = vocab.types().length - 1; i >= 0; i--) if (vocab.types()[i] == Vocabulary.UNKNOWN) unknown = i;
        for (int b = 0; b < 256; b++) {
            // like llama.cpp: the byte token, else the byte as a one-character token; beyond that the unknown token
            int id = vocab.id("<0x%02X>".formatted(b));
            if (id < 0 && b < 0x80) id = vocab.id(String.valueOf((char) b));
            byteIds[b] = id >= 0 ? id : unknown;
        }
    }

    private record Bigram(int left, int right, float score, int size) {}

    @Override
    void encodeText(String raw, boolean afterSpecial, Ids out) {
        String text = ((addSpacePrefix && afterSpecial ? " " : "") + raw).replace(' ', '▁');
        int n = text.codePointCount(0, text.length());
        // symbols as a linked list over the code points: start offset, length in chars (0 once merged away)
        int[] start = new int[n], len = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0, off = 0; i < n; i++) {
            start[i] = off;
            len[i] = Character.charCount(text.codePointAt(off));
            off += len[i];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) ->
                a.score != b.score ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        for (int i = 1; i < n; i++) offer(queue, text, start, len, i - 1, i);
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            if (len[b.left] == 0 || len[b.right] == 0 || len[b.left] + len[b.right] != b.size) continue; // stale
            len[b.left] += len[b.right];
            len[b.right] = 0;
            next[b.left] = next[b.right];
            if (next[b.right] >= 0) prev[next[b.right]] = b.left;
            offer(queue, text, start, len, prev[b.left], b.left);
            offer(queue, text, start, len, b.left, next[b.left]);
        }
        for (int i = 0; i != -1 && n > 0; i = next[i]) {
            String symbol = text.substring(start[i], start[i] + len[i]);
            int id = vocab.id(symbol);
            if (id >= 0) {
                out.add(id);
            } else {
                for (byte x : symbol.getBytes(StandardCharsets.UTF_8)) out.add(byteIds[x & 0xff]);
            }
        }
    }

    private void offer(PriorityQueue<Bigram> queue, String text, int[] start, int[] len, int left, int right) {
        if (left < 0 || right < 0) return;
        int size = len[left] + len[right];
        int id = vocab.id(text.substring(start[left], start[left] + size));
        if (id >= 0) queue.add(new Bigram(left, right, scores[id], size));
    }

    @Override
    public byte[] bytes(int id) {
        String token = vocab.tokens()[id];
        return switch (vocab.types()[id]) {
            case Vocabulary.BYTE -> new byte[]{(byte) Integer.parseInt(token, 3, 5, 16)};
            case Vocabulary.NORMAL, Vocabulary.USER_DEFINED -> token.replace('▁', ' ').getBytes(StandardCharsets.UTF_8);
            case Vocabulary.UNKNOWN -> "▅".getBytes(StandardCharsets.UTF_8);
            default -> NOTHING;
        };
    }

    /** Drops the space the encoder put in front of the first word, as SentencePiece does. */
    @Override
    public String decode(int[] ids) {
        String s = super.decode(ids);
        return addSpacePrefix && s.startsWith(" ") ? s.substring(1) : s;
    }
}
