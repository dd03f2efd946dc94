package dev.herd.api;

import dev.herd.HerdException;
import dev.herd.engine.ChatSession;
import dev.herd.engine.Generation;
import dev.herd.engine.Generator;
import dev.herd.engine.Model;
import dev.herd.engine.Sampler;
import dev.herd.engine.Sequence;
import dev.herd.tokenizer.ChatTemplate;

import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The model's single stream: one generation at a time, the others waiting in FIFO order (a fair lock) up to a bound.
 * All requests share one {@link ChatSession}, so a request that extends the previous conversation reuses its cache, but
 * only if the same client sent both: the cache is forgotten when another client's request comes, so that no client
 * learns from {@code cached_tokens} (or from a faster answer) what another's prompt began with. The prompt is
 * tokenized and its length checked before the request waits for the model ({@link Prompts}).
 * Embeddings take the same slot. A failure of the model (a lost worker, or one that does not answer a health check)
 * fails that request and drops the model; the next request reopens it.
 */
final class Engine implements AutoCloseable {
    /** How long a health check waits for each worker's answer. */
    static final int ANSWER_MS = 2_000;

    private final Supplier<Backend> opener;
    private final int queueSize;
    private final long tokenDelayMs;
    private final Metrics metrics;
    private final ReentrantLock slot = new ReentrantLock(true);
    private final AtomicInteger waiting = new AtomicInteger();
    private final String modelName;

    private Backend backend; // guarded by slot; null after a failure
    private String failure; // why backend is null
    private ChatSession session;
    private String owner; // the client whose tokens the cache holds
    private volatile Prompts prompts; // used outside the slot, replaced with the model

    /** @param tokenDelayMs a pause after each token, to watch streaming or test slow generations */
    Engine(Supplier<Backend> opener, int queueSize, long tokenDelayMs, Metrics metrics) {
        this.opener = opener;
        this.queueSize = queueSize;
        this.tokenDelayMs = tokenDelayMs;
        this.metrics = metrics;
        this.backend = opener.get();
        this.session = new ChatSession(backend.model());
        this.modelName = backend.model().name;
        this.prompts = new Prompts(backend.model());
    }

    String modelName() {
        return modelName;
    }

    /** The model's chat template family (how prompts, tools and calls are written). */
    ChatTemplate.Format chatFamily() {
        return prompts.family();
    }

    int queued() {
        return waiting.get();
    }

    boolean busy() {
        return slot.isLocked();
    }

    /**
     * Runs the request when its turn comes; text goes to {@code out} as it is produced. A cancelled request leaves the
     * queue ({@link Cancellation.Cancelled}) or stops at its next token; either counts in {@code herd_cancelled_total}.
     *
     * @param client who sent it: the cache is reused only for the same client's requests
     */
    Outcome run(Request req, String client, Consumer<Sequence.Piece> out, Cancellation cancel) {
        long start = System.nanoTime();
        int[] tokens = prompts.tokens(req);
        long tokenizeNanos = System.nanoTime() - start;
        acquire(cancel);
        try {
            return generate(req, tokens, tokenizeNanos, client, out, cancel);
        } finally {
            slot.unlock();
        }
    }

    private void acquire(Cancellation cancel) {
        try {
            if (slot.tryLock(0, TimeUnit.SECONDS)) return; // unlike tryLock(), honours the queue order
            if (waiting.incrementAndGet() > queueSize) {
                waiting.decrementAndGet();
                throw new ApiError(429, "rate_limit_error", null, "queue_full",
                        "the server is busy: " + queueSize + " requests are already waiting; retry later");
            }
            boolean turn;
            try {
                turn = cancel.lock(slot);
            } finally {
                waiting.decrementAndGet();
            }
            if (!turn) {
                metrics.cancelled();
                throw new Cancellation.Cancelled();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiError(503, "server_error", null, "shutting_down", "the server is shutting down");
        }
    }

    private Outcome generate(Request req, int[] tokens, long tokenizeNanos, String client, Consumer<Sequence.Piece> out, Cancellation cancel) {
        Backend b = backend();
        Model m = b.model();
        // Batched and one-token evaluation round differently (logits differ by ~1e-5), enough to change a draw now
        // and then: a seeded request evaluates its whole prompt, so that it gives the same text whatever ran before.
        // Another client's request starts from nothing, so that it can learn nothing from the cache (see above).
        if (req.seed() != null || !client.equals(owner)) session.forget();
        owner = client;
        long renderStart = System.nanoTime();
        int[] prompt = req.chat() ? session.prompt(req.messages()) : tokens; // a chat may splice in the last reply's ids
        long renderNanos = System.nanoTime() - renderStart + tokenizeNanos;
        Sampler sampler = new Sampler(m.llama.vocab(), req.temperature(), 0, Math.max(req.topP(), 1e-6f),
                req.seed() != null ? req.seed() : System.nanoTime());
        if (req.format() != null) sampler.constrain(req.format().mask(m.tokenizer));
        Sequence seq = new Sequence(m, sampler, req.stop(), req.logprobs(), piece -> {
            if (!piece.text().isEmpty() || !piece.logprobs().isEmpty()) out.accept(piece);
            if (piece.token() >= 0) pace();
        }, cancel::cancelled);
        long sync = b.stats() == null ? 0 : b.stats().syncNanos();
        Generation.Result reply;
        try {
            reply = session.complete(prompt, seq, req.maxTokens() == null ? Integer.MAX_VALUE : req.maxTokens());
        } catch (Generation.ContextFull e) {
            throw Prompts.tooLong(req.chat() ? "messages" : "prompt", e.getMessage());
        } catch (HerdException | UncheckedIOException e) { // a lost worker
            drop(e);
            throw unavailable(e);
        } catch (RuntimeException e) {
            session = new ChatSession(m); // what the cache holds is unknown now
            throw e;
        }
        Generator.Result r = reply.run();
        if (cancel.cancelled()) metrics.cancelled();
        Outcome o = new Outcome(reply.text(), reply.finish(), prompt.length, reply.reused(), r.tokens().length, r.promptNanos(),
                r.decodeNanos(), renderNanos + r.firstTokenNanos(), r.decodeSteps(), seq.logprobs());
        metrics.generation(o, b.stats() == null ? Double.NaN : (b.stats().syncNanos() - sync) / 1e6 / Math.max(o.tokens(), 1));
        return o;
    }

    /**
     * The embeddings of already tokenized inputs ({@link #inputs}), one at a time when the model is free. They
     * are evaluated at the cache's first positions, so the cache is forgotten: no request reuses it.
     */
    List<float[]> embed(List<int[]> inputs, Cancellation cancel) {
        acquire(cancel);
        try {
            Backend b = backend();
            session.forget();
            owner = null;
            Generation generation = new Generation(b.model());
            List<float[]> out = new ArrayList<>();
            for (int[] ids : inputs) out.add(generation.embedding(ids));
            return out;
        } catch (HerdException | UncheckedIOException e) { // a lost worker
            drop(e);
            throw unavailable(e);
        } finally {
            slot.unlock();
        }
    }

    /** Texts to embed, tokenized and checked before they wait for the model ({@link Prompts#inputs}). */
    List<int[]> inputs(List<String> texts) {
        return prompts.inputs(texts);
    }

    private Backend backend() {
        if (backend == null) {
            try {
                backend = opener.get();
                session = new ChatSession(backend.model());
                prompts = new Prompts(backend.model());
            } catch (HerdException e) {
                failure = e.getMessage();
                throw unavailable(e);
            }
        }
        return backend;
    }

    /**
     * Null when the model can serve: no generation runs and every worker answered within {@link #ANSWER_MS}, or a
     * generation runs (its own exchanges watch the workers: one silent for the worker timeout fails it). Otherwise
     * why not, naming the lost worker; a worker that does not answer drops the model, reopened by the next request.
     */
    String unavailable() {
        if (!slot.tryLock()) return null;
        try {
            if (backend == null) return failure + "; the model is reopened on the next request";
            List<String> lost = backend.unanswered().apply(ANSWER_MS);
            if (lost.isEmpty()) return null;
            drop(new HerdException("lost worker " + String.join(", lost worker ", lost)));
            return failure;
        } finally {
            slot.unlock();
        }
    }

    private void drop(RuntimeException cause) {
        failure = cause.getMessage();
        System.err.println("herd api: the model failed (" + cause.getMessage() + "); it is reopened on the next request");
        try {
            backend.close().run();
        } catch (RuntimeException e) {
            System.err.println("herd api: closing the model: " + e.getMessage());
        }
        backend = null;
        session = null;
    }

    private static ApiError unavailable(RuntimeException e) {
        return new ApiError(503, "server_error", null, "model_unavailable", "the model is unavailable: " + e.getMessage());
    }

    private void pace() {
        if (tokenDelayMs <= 0) return;
        try {
            Thread.sleep(tokenDelayMs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        slot.lock();
        try {
            if (backend != null) backend.close().run();
            backend = null;
        } finally {
            slot.unlock();
        }
    }
}
