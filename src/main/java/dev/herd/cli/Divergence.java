package dev.herd.cli;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * How far a model's next-token distributions are from saved ones, position by position, as llama.cpp's perplexity
 * tool measures it: KL(base || model) = sum_i p_base(i) (log p_base(i) - log p_model(i)), the share of positions whose
 * most likely token is the same, and both perplexities on the saved targets.
 */
final class Divergence {
    int positions, sameTop;
    private double klSum, klMax, baseNll, nll;
    private int klMaxAt;
    private double[] kls = new double[64];

    /** Adds one position: saved log-probabilities and this model's logits, both at {@code off}, and the true next token. */
    void add(float[] baseLogProbs, float[] logits, int off, int vocab, int target) {
        double norm = LogProbFile.logSumExp(logits, off, vocab), kl = 0;
        int top = off, baseTop = off;
        for (int i = off; i < off + vocab; i++) {
            double lb = baseLogProbs[i];
            if (lb > Double.NEGATIVE_INFINITY) kl += Math.exp(lb) * (lb - (logits[i] - norm));
            if (logits[i] > logits[top]) top = i;
            if (baseLogProbs[i] > baseLogProbs[baseTop]) baseTop = i;
        }
        kl = Math.max(kl, 0); // rounding can leave a tiny negative sum for equal distributions
        if (top == baseTop) sameTop++;
        if (positions == kls.length) kls = Arrays.copyOf(kls, 2 * kls.length);
        kls[positions] = kl;
        if (kl > klMax || positions == 0) {
            klMax = kl;
            klMaxAt = positions;
        }
        klSum += kl;
        baseNll -= baseLogProbs[off + target];
        nll -= logits[off + target] - norm;
        positions++;
    }

    double meanKl() {
        return klSum / positions;
    }

    double topAgreement() {
        return (double) sameTop / positions;
    }

    String report(Path base) {
        double[] sorted = Arrays.copyOf(kls, positions);
        Arrays.sort(sorted);
        return String.format("perplexity %.4f against the base's %.4f over %d positions%n"
                        + "kl-divergence from %s: mean %.6f, median %.6f, max %.6f (position %d); top-1 agreement %.2f %% (%d of %d)",
                Math.exp(nll / positions), Math.exp(baseNll / positions), positions, base.getFileName(), meanKl(),
                sorted[positions / 2], klMax, klMaxAt, 100 * topAgreement(), sameTop, positions);
    }
}
