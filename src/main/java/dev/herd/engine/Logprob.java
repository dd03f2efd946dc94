package dev.herd.engine;

import dev.herd.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * A generated token's log-probability under the model: the log-softmax of the very logits it was sampled from, before
 * temperature and top-p (as OpenAI reports it), with the {@code top} most likely tokens at that step, best first.
 *
 * @param bytes the token's text as bytes (a piece of a character for byte tokens)
 */
public record Logprob(int token, byte[] bytes, double logprob, List<Logprob> top) {
    /** Most alternatives per token, as OpenAI's {@code top_logprobs}. */
    public static final int MAX_TOP = 20;

    /** {@code token}'s entry, with the {@code top} best tokens of {@code logits[0 .. vocab)}. */
    static Logprob of(float[] logits, int vocab, int token, int top, Tokenizer tokenizer) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[i] - max);
        double logZ = max + Math.log(sum);
        int[] best = best(logits, vocab, top);
        List<Logprob> alternatives = new ArrayList<>(best.length);
        for (int id : best) alternatives.add(new Logprob(id, tokenizer.bytes(id), logits[id] - logZ, List.of()));
        return new Logprob(token, tokenizer.bytes(token), logits[token] - logZ, alternatives);
    }

    /** The n tokens of highest logit, best first (the lower id first among equals). */
    private static int[] best(float[] logits, int vocab, int n) {
        int[] ids = new int[Math.min(n, vocab)];
        int filled = 0;
        for (int i = 0; i < vocab; i++) {
            if (filled == ids.length && (filled == 0 || logits[i] <= logits[ids[filled - 1]])) continue;
            int at = Math.min(filled, ids.length - 1);
            while (at > 0 && logits[ids[at - 1]] < logits[i]) {
                ids[at] = ids[at - 1];
                at--;
            }
            ids[at] = i;
            if (filled < ids.length) filled++;
        }
        return ids;
    }
}
