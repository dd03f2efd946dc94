package dev.herd.api;

/**
 * What a generation produced.
 *
 * @param finish    OpenAI's finish_reason: "stop" or "length"
 * @param tokens    completion tokens
 * @param cached    prompt tokens reused from the KV cache
 */
record Outcome(String text, String finish, int promptTokens, int cached, int tokens, long promptNanos, long decodeNanos) {

    double promptPerSecond() {
        return perSecond(promptTokens - cached, promptNanos);
    }

    /** The first token comes with the prompt, so decode speed counts the others. */
    double decodePerSecond() {
        return perSecond(tokens - 1, decodeNanos);
    }

    private static double perSecond(int n, long nanos) {
        return n <= 0 || nanos <= 0 ? 0 : n / (nanos / 1e9);
    }
}
