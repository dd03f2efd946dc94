package dev.herd.engine;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class SamplerTest {
    static final int VOCAB = 1000;

    static float[] randomLogits(long seed) {
        float[] l = new float[VOCAB];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < VOCAB; i++) l[i] = (float) r.nextGaussian() * 3;
        return l;
    }

    /** Logits whose softmax is exactly {@code probs} on the first tokens and negligible elsewhere. */
    static float[] logitsFor(double... probs) {
        float[] l = new float[VOCAB];
        Arrays.fill(l, -100);
        for (int i = 0; i < probs.length; i++) l[i] = (float) Math.log(probs[i]);
        return l;
    }

    @Test
    void greedyIsArgmax() {
        for (int seed = 0; seed < 10; seed++) {
            float[] l = randomLogits(seed);
            int best = 0;
            for (int i = 1; i < VOCAB; i++) if (l[i] > l[best]) best = i;
            assertThat(Sampler.greedy(VOCAB).sample(l)).isEqualTo(best);
        }
    }

    @Test
    void sameSeedSameTokens() {
        int[] a = draws(new Sampler(VOCAB, 1f, 40, 0.95f, 123), 200);
        int[] b = draws(new Sampler(VOCAB, 1f, 40, 0.95f, 123), 200);
        int[] c = draws(new Sampler(VOCAB, 1f, 40, 0.95f, 124), 200);
        assertThat(a).containsExactly(b);
        assertThat(a).isNotEqualTo(c);
    }

    private static int[] draws(Sampler s, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = s.sample(randomLogits(i));
        return out;
    }

    @Test
    void topKKeepsTheKBest() {
        float[] l = randomLogits(5);
        Integer[] order = new Integer[VOCAB];
        for (int i = 0; i < VOCAB; i++) order[i] = i;
        Arrays.sort(order, (x, y) -> Float.compare(l[y], l[x]));
        Sampler s = new Sampler(VOCAB, 5f, 3, 1f, 1); // hot: without top-k nearly any token could come
        int[] hits = new int[VOCAB];
        for (int i = 0; i < 3000; i++) hits[s.sample(l)]++;
        for (int i = 0; i < VOCAB; i++) {
            boolean top3 = i == order[0] || i == order[1] || i == order[2];
            if (top3) assertThat(hits[i]).as("token %d", i).isPositive();
            else assertThat(hits[i]).as("token %d", i).isZero();
        }
    }

    @Test
    void topPKeepsTheSmallestNucleus() {
        float[] l = logitsFor(0.5, 0.3, 0.15, 0.05);
        assertThat(counts(new Sampler(VOCAB, 1f, 0, 0.7f, 9), l)).containsExactly(true, true, false, false);
        assertThat(counts(new Sampler(VOCAB, 1f, 0, 0.85f, 9), l)).containsExactly(true, true, true, false);
        // top-p applies to the probabilities renormalized over the top-k survivors: 0.5/0.8 < 0.7 needs both.
        assertThat(counts(new Sampler(VOCAB, 1f, 2, 0.7f, 9), l)).containsExactly(true, true, false, false);
        assertThat(counts(new Sampler(VOCAB, 1f, 2, 0.6f, 9), l)).containsExactly(true, false, false, false);
    }

    private static boolean[] counts(Sampler s, float[] l) {
        boolean[] seen = new boolean[4];
        for (int i = 0; i < 2000; i++) {
            int t = s.sample(l);
            assertThat(t).isLessThan(4);
            seen[t] = true;
        }
        return seen;
    }

    @Test
    void temperatureOneFollowsTheSoftmax() {
        float[] l = logitsFor(0.6, 0.3, 0.1);
        Sampler s = new Sampler(VOCAB, 1f, 0, 1f, 77);
        int[] hits = new int[VOCAB];
        int n = 20000;
        for (int i = 0; i < n; i++) hits[s.sample(l)]++;
        assertThat(hits[0] / (double) n).isCloseTo(0.6, within(0.02));
        assertThat(hits[1] / (double) n).isCloseTo(0.3, within(0.02));
        assertThat(hits[2] / (double) n).isCloseTo(0.1, within(0.02));
    }

    /** With no top-k or top-p cut (the API's default) a masked token, of probability 0, is never drawn, and the rest follow the softmax. */
    @Test
    void withoutCutsMaskedTokensAreNeverDrawn() {
        float[] l = logitsFor(0.5, 0.3, 0.2);
        TokenConstraint onlyOneAndTwo = new TokenConstraint() {
            @Override
            public void mask(float[] logits) {
                for (int i = 0; i < VOCAB; i++) if (i != 1 && i != 2) logits[i] = Float.NEGATIVE_INFINITY;
            }

            @Override
            public void accept(int token) {}
        };
        Sampler s = new Sampler(VOCAB, 1f, 0, 1f, 5).constrain(onlyOneAndTwo);
        int[] hits = new int[VOCAB];
        int n = 20000;
        for (int i = 0; i < n; i++) hits[s.sample(l.clone())]++;
        assertThat(hits[1] + hits[2]).isEqualTo(n);
        assertThat(hits[1] / (double) n).isCloseTo(0.6, within(0.02));
    }
}
