package dev.herd.engine;

/** Limits which tokens may come next (a grammar the output must follow); the {@link Sampler} consults it each step. */
public interface TokenConstraint {
    /** Sets the logits of the tokens that may not come next to negative infinity. */
    void mask(float[] logits);

    /** Tells it the token that was picked. */
    void accept(int token);
}
