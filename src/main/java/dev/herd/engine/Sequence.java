package dev.herd.engine;

import dev.herd.tokenizer.TokenDecoder;
import dev.herd.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * One request's side of a generation, apart from the model loop: its sampler, the streaming decode of its tokens to
 * text, its stop strings, its logprobs and where its text goes. The model loop ({@link Generator}) asks it for each
 * next token ({@link #pick}) and hands it each generated token ({@link #token}); a scheduler stepping several
 * sequences at once would hold one per request. Not thread-safe.
 */
public final class Sequence implements Generator.Listener {
    /**
     * What a token added: the text now safe to show (empty while a character or a possible stop string is incomplete),
     * and the logprobs of the tokens since the last text (empty unless asked for). Token -1 is the end of generation,
     * with whatever was held back until then.
     */
    public record Piece(int token, long nanos, String text, List<Logprob> logprobs) {}

    @FunctionalInterface
    public interface Output {
        void piece(Piece piece);
    }

    private final Tokenizer tokenizer;
    private final int vocab;
    private final Sampler sampler;
    private final TokenDecoder decoder;
    private final StopFilter stops;
    private final int topLogprobs;
    private final Output out;
    private final BooleanSupplier cancelled;
    private final StringBuilder text = new StringBuilder();
    private final List<Logprob> logprobs = new ArrayList<>();
    private int shown; // logprobs already handed out with a piece
    private Logprob picked;

    /**
     * @param topLogprobs -1 for no logprobs, else the alternatives to report with each token's (0 to {@link Logprob#MAX_TOP})
     * @param cancelled   asked after each token: true ends generation there (the client left)
     */
    public Sequence(Model model, Sampler sampler, List<String> stops, int topLogprobs, Output out, BooleanSupplier cancelled) {
        if (topLogprobs < -1 || topLogprobs > Logprob.MAX_TOP) throw new IllegalArgumentException("topLogprobs must be -1 to " + Logprob.MAX_TOP);
        this.tokenizer = model.tokenizer;
        this.vocab = model.llama.vocab();
        this.sampler = sampler;
        this.decoder = tokenizer.decoder();
        this.stops = new StopFilter(stops);
        this.topLogprobs = topLogprobs;
        this.out = out;
        this.cancelled = cancelled;
    }

    /** No stop strings, no logprobs, never cancelled. */
    public Sequence(Model model, Sampler sampler, Output out) {
        this(model, sampler, List.of(), -1, out, () -> false);
    }

    /** Samples the next token from {@code logits}; with logprobs asked for, notes the distribution it came from. */
    public int pick(float[] logits) {
        int token = sampler.sample(logits);
        if (topLogprobs >= 0) picked = Logprob.of(logits, vocab, token, topLogprobs, tokenizer);
        return token;
    }

    @Override
    public void token(int token, long nanos) {
        if (picked != null) logprobs.add(picked);
        picked = null; // an EOS pick is never handed over: it is not part of the reply
        emit(token, nanos, stops.push(decoder.next(token)));
    }

    @Override
    public boolean halted() {
        return stops.stopped() || cancelled.getAsBoolean();
    }

    /** The end of generation: hands out what the decoder and the stop strings held back. */
    void finish() {
        String rest = stops.push(decoder.flush()) + stops.flush();
        if (!rest.isEmpty() || shown < logprobs.size()) emit(-1, 0, rest);
    }

    private void emit(int token, long nanos, String piece) {
        text.append(piece);
        List<Logprob> with = List.of();
        if (!piece.isEmpty() || token == -1) {
            with = List.copyOf(logprobs.subList(shown, logprobs.size()));
            shown = logprobs.size();
        }
        out.piece(new Piece(token, nanos, piece, with));
    }

    /** The text shown so far. */
    public String text() {
        return text.toString();
    }

    /** Whether a stop string ended the text. */
    public boolean stopped() {
        return stops.stopped();
    }

    /** Every generated token's logprob so far, in order; empty unless asked for. */
    public List<Logprob> logprobs() {
        return List.copyOf(logprobs);
    }
}
