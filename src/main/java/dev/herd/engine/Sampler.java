package dev.herd.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy (argmax) at temperature 0; otherwise softmax at the temperature, then
 * top-k, then top-p over the remaining (renormalized) probabilities (neither: a draw over all tokens, unsorted), then a draw from a {@link SplittableRandom}
 * seeded by the caller, so the same seed gives the same tokens. Buffers are reused; nothing is boxed. A
 * {@link TokenConstraint} (a grammar), when set, masks the logits before each draw and is told the token drawn.
 */
public final class Sampler {
    private final float temperature;
    private final int topK;
    private final float topP;
    private final SplittableRandom random;
    private final float[] probs;
    /** Candidates as (probability bits << 32 | token): for p >= 0 the float bits sort like the values. */
    private final long[] keys;
    private TokenConstraint constraint;

    /**
     * @param topK 0 = no limit
     * @param topP 1 = no limit
     */
    public Sampler(int vocab, float temperature, int topK, float topP, long seed) {
        if (temperature < 0 || topK < 0 || !(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("need temperature >= 0, top-k >= 0 and 0 < top-p <= 1");
        }
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.random = new SplittableRandom(seed);
        this.probs = new float[vocab];
        this.keys = new long[vocab];
    }

    public static Sampler greedy(int vocab) {
        return new Sampler(vocab, 0, 0, 1, 0);
    }

    /** Makes every later draw follow the constraint; returns this sampler. */
    public Sampler constrain(TokenConstraint constraint) {
        this.constraint = constraint;
        return this;
    }

    /** Samples from the first vocab entries of {@code logits} (which the constraint, if any, masks in place). */
    public int sample(float[] logits) {
        if (constraint == null) return pick(logits);
        constraint.mask(logits);
        int token = pick(logits);
        constraint.accept(token);
        return token;
    }

    private int pick(float[] logits) {
        int n = probs.length;
        if (temperature == 0) return argmax(logits, n);
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[i]);
        float sum = 0;
        for (int i = 0; i < n; i++) {
            probs[i] = (float) Math.exp((logits[i] - max) / temperature);
            sum += probs[i];
        }
        for (int i = 0; i < n; i++) probs[i] /= sum;
        if (topK == 0 && topP >= 1) return drawAll(n);
        int count = candidates(n);
        Arrays.sort(keys, 0, count); // ascending: best last
        int lo = 0; // a masked token in the top k must never be the fallback below
        while (constraint != null && lo < count - 1 && prob(keys[lo]) == 0) lo++;
        double mass = 0;
        for (int i = lo; i < count; i++) mass += prob(keys[i]);
        // Smallest set of best tokens whose renormalized mass reaches top-p.
        double kept = 0;
        int first = count;
        while (first > lo && kept < topP * mass) kept += prob(keys[--first]);
        double r = random.nextDouble() * kept;
        for (int i = count - 1; i > first; i--) {
            r -= prob(keys[i]);
            if (r < 0) return token(keys[i]);
        }
        return token(keys[first]);
    }

    /**
     * A draw over every token in id order: with no top-k or top-p cut there is nothing to sort (sorting the 128,256
     * tokens of a Llama 3 vocabulary took ~1.5 ms a token, the API's default). A token of probability 0 (masked) is
     * never drawn.
     */
    private int drawAll(int n) {
        double mass = 0;
        for (int i = 0; i < n; i++) mass += probs[i];
        double r = random.nextDouble() * mass;
        int last = -1;
        for (int i = 0; i < n; i++) {
            if (probs[i] == 0) continue;
            last = i;
            if ((r -= probs[i]) < 0) return i;
        }
        return last; // r left over by rounding: the last token that could be drawn
    }

    /** Fills keys[0 .. count) with the tokens that may be picked and returns count. */
    private int candidates(int n) {
        if (topK > 0 && topK < n) return topK(n);
        // Tokens below this can never be in the nucleus: all of them together hold less than 1 - topP (llama2.c).
        // Masked tokens (probability 0) are left out from sorting.
        float cutoff = topP < 1 ? (1 - topP) / (n - 1) : constraint != null ? Float.MIN_VALUE : 0;
        int count = 0;
        for (int i = 0; i < n; i++) if (probs[i] >= cutoff) keys[count++] = key(i);
        return count;
    }

    /** The topK most probable tokens, kept in a min-heap in keys[0 .. topK). */
    private int topK(int n) {
        for (int i = 0; i < topK; i++) siftUp(i, key(i));
        for (int i = topK; i < n; i++) {
            long k = key(i);
            if (k > keys[0]) siftDown(k);
        }
        return topK;
    }

    private void siftUp(int at, long k) {
        while (at > 0 && keys[(at - 1) / 2] > k) {
            keys[at] = keys[(at - 1) / 2];
            at = (at - 1) / 2;
        }
        keys[at] = k;
    }

    /** Replaces the heap's smallest key with k. */
    private void siftDown(long k) {
        int at = 0;
        while (true) {
            int child = 2 * at + 1;
            if (child >= topK) break;
            if (child + 1 < topK && keys[child + 1] < keys[child]) child++;
            if (keys[child] >= k) break;
            keys[at] = keys[child];
            at = child;
        }
        keys[at] = k;
    }

    private long key(int token) {
        return (long) Float.floatToRawIntBits(probs[token]) << 32 | token;
    }

    private static float prob(long key) {
        return Float.intBitsToFloat((int) (key >>> 32));
    }

    private static int token(long key) {
        return (int) key;
    }

    static int argmax(float[] x, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
