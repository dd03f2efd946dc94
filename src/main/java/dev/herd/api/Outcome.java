package dev.herd.api;

import dev.herd.engine.Logprob;

import java.util.List;

/**
 * What a generation produced.
 *
 * @param finish          OpenAI's finish_reason: "stop" or "length"
 * @param tokens          completion tokens
 * @param cached          prompt tokens reused from the KV cache
 * @param promptNanos     the forward passes over the evaluated prompt tokens alone
 * @param decodeNanos     the decode steps (forward pass and sampling of each token after the first)
 * @param firstTokenNanos time to first token: rendering and tokenizing the prompt, its evaluation and the first
 *                        sampling (not the time queued for the model)
 * @param decodeSteps     the steps decodeNanos counts (the one that produced EOS included)
 * @param logprobs        each generated token's, when asked for; else empty
 */
record Outcome(String text, String finish, int promptTokens, int cached, int tokens, long promptNanos, long decodeNanos,
               long firstTokenNanos, int decodeSteps, List<Logprob> logprobs) {

    double promptPerSecond() {
        return perSecond(promptTokens - cached, promptNanos);
    }

    /** The first token comes with the prompt, so decode speed counts the decode steps after it. */
    double decodePerSecond() {
        return perSecond(decodeSteps, decodeNanos);
    }

    private static double perSecond(int n, long nanos) {
        return n <= 0 || nanos <= 0 ? 0 : n / (nanos / 1e9);
    }
}
