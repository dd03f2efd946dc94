package dev.herd.engine;

import dev.herd.HerdException;

/**
 * The one generation path of {@code herd inference}, {@code chat}, {@code demo} and the API: encode the prompt, check
 * that it leaves room in the context, run the model loop ({@link Generator}) for a {@link Sequence} (sampler, stop
 * strings, streaming decode, logprobs), with its timings. Prefix reuse across requests is {@link ChatSession}'s, on top.
 */
public final class Generation {
    private final Model model;
    private final Forward forward;

    public Generation(Model model) {
        this(model, model.llama);
    }

    /** Generations on {@code forward}: the model's own pass, or one slot of it ({@link Scheduler}). */
    public Generation(Model model, Forward forward) {
        this.model = model;
        this.forward = forward;
    }

    /** A prompt's token ids and the time taken to tokenize it. */
    public record Encoded(int[] ids, long nanos) {}

    /** Prompt text to ids (with BOS when the tokenizer asks for it); refuses a prompt that gives no token. */
    public Encoded encode(String prompt) {
        long start = System.nanoTime();
        int[] ids = model.encodePrompt(prompt);
        long nanos = System.nanoTime() - start;
        if (ids.length == 0) throw new HerdException("the prompt is empty and the model adds no BOS token");
        return new Encoded(ids, nanos);
    }

    /** A prompt that leaves no position to generate in. */
    public static final class ContextFull extends HerdException {
        ContextFull(String message) {
            super(message);
        }
    }

    /**
     * The context check, the one every front end makes: the tokens a prompt of {@code promptTokens} leaves to
     * generate within {@code positions} (the context, or a run's own bound), which {@code limit} names in the refusal.
     */
    private static int room(int promptTokens, int positions, String limit) {
        if (promptTokens >= positions) throw new ContextFull("the prompt has " + promptTokens + " tokens but " + limit + ": no room to generate");
        return positions - promptTokens;
    }

    /** The check for text that is only evaluated (embeddings): it may fill the whole context. */
    public void fits(int tokens) {
        if (tokens > forward.maxSeqLen()) {
            throw new ContextFull("the input has " + tokens + " tokens but the context holds " + forward.maxSeqLen());
        }
    }

    /** {@link #room} within a run of {@code steps} positions, the prompt included ({@code --steps}), or the context if shorter. */
    public int room(int promptTokens, int steps) {
        int context = forward.maxSeqLen();
        return steps <= context ? room(promptTokens, steps, "--steps is " + steps + " (the prompt included)") : room(promptTokens);
    }

    /** {@link #room} within the whole context. */
    public int room(int promptTokens) {
        return room(promptTokens, forward.maxSeqLen(), "the context holds " + forward.maxSeqLen());
    }

    /**
     * What a generation gave: the model loop's tokens and timings, the text shown, and how many prompt tokens came
     * from the cache.
     */
    public record Result(Generator.Result run, String text, boolean stopString, int reused) {
        /** OpenAI's finish_reason: "length" when the token budget or the context ran out, else "stop". */
        public String finish() {
            return run.stop() == Generator.Stop.LENGTH || run.stop() == Generator.Stop.CONTEXT ? "length" : "stop";
        }
    }

    /**
     * Evaluates {@code prompt} at positions startPos.. (the earlier ones must be in the cache), then generates up to
     * {@code maxTokens} tokens for {@code seq}, which gets every piece of text as it comes and the rest at the end.
     */
    public Result run(int[] prompt, int startPos, int maxTokens, Sequence seq) {
        Generator.Result r = new Generator(forward, seq::pick, model.eosIds()).generate(prompt, startPos, maxTokens, seq);
        seq.finish();
        return new Result(r, seq.text(), seq.stopped(), startPos);
    }

    /**
     * The text's embedding as llama.cpp's server makes one for a decoder model: the final hidden states (after the
     * output norm) of all its tokens, mean-pooled, scaled to unit length. Evaluates the tokens at positions 0..,
     * overwriting what the cache held there.
     */
    public float[] embedding(int[] ids) {
        if (ids.length == 0) throw new HerdException("nothing to embed");
        fits(ids.length);
        double[] sum = forward.hiddenSum(ids);
        double norm = 0;
        for (double v : sum) norm += v * v;
        norm = Math.sqrt(norm);
        float[] out = new float[sum.length];
        for (int i = 0; i < out.length; i++) out[i] = norm == 0 ? 0 : (float) (sum[i] / norm);
        return out;
    }
}
