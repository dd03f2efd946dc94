package dev.herd.api;

import dev.herd.HerdException;
import dev.herd.engine.ChatSession;
import dev.herd.engine.Generation;
import dev.herd.engine.Generator;
import dev.herd.engine.Model;
import dev.herd.engine.Sampler;
import dev.herd.engine.Scheduler;
import dev.herd.engine.Sequence;

import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The model's slots ({@link Scheduler}): up to one generation per slot at once, decoded together in steps; the
 * requests beyond them wait in FIFO order (a fair semaphore) up to a bound. Each slot keeps its own {@link
 * ChatSession}, so a request that extends a conversation reuses the cache of the slot that served it, but only if the
 * same client sent both: a request goes to a free slot that last served its client, else to one that served nobody
 * or the one idle longest, whose cache is then forgotten, so that no client learns from {@code cached_tokens} (or from
 * a faster answer) what another's prompt began with. The prompt is tokenized and its length checked before the
 * request waits for a slot ({@link Prompts}). Embeddings take a slot too. A failure of the model (a lost worker, or
 * one that does not answer a health check) fails the requests that were running and drops the model; the next
 * request reopens it.
 */
final class Engine implements AutoCloseable {
    /** How long a health check waits for each worker's answer. */
    static final int ANSWER_MS = 2_000;

    private final Supplier<Backend> opener;
    private final int queueSize;
    private final long tokenDelayMs;
    private final Metrics metrics;
    private final int slots;
    private final Semaphore permits;
    private final AtomicInteger waiting = new AtomicInteger();
    private final String modelName;
    // Guarded by this: which slots run a request, the client each last served, when it was last taken.
    private final boolean[] taken;
    private final String[] owners;
    private final long[] used;
    private long uses;

    private Backend backend; // guarded by this; null after a failure
    private String failure; // why backend is null
    private Scheduler scheduler;
    private ChatSession[] sessions;
    private volatile Prompts prompts; // used outside the slot, replaced with the model

    /** @param tokenDelayMs a pause after each token, to watch streaming or test slow generations */
    Engine(Supplier<Backend> opener, int queueSize, long tokenDelayMs, Metrics metrics) {
        this.opener = opener;
        this.queueSize = queueSize;
        this.tokenDelayMs = tokenDelayMs;
        this.metrics = metrics;
        open();
        this.slots = scheduler.size();
        this.permits = new Semaphore(slots, true);
        this.taken = new boolean[slots];
        this.owners = new String[slots];
        this.used = new long[slots];
        this.modelName = backend.model().name;
    }

    /** Opens the model (again): its scheduler, an empty session per slot. */
    private void open() {
        backend = opener.get();
        Model m = backend.model();
        scheduler = new Scheduler(m.llama);
        sessions = new ChatSession[scheduler.size()];
        for (int i = 0; i < sessions.length; i++) sessions[i] = new ChatSession(m, scheduler.slot(i));
        prompts = new Prompts(m);
    }

    String modelName() {
        return modelName;
    }

    /** Requests the model serves at once. */
    int slots() {
        return slots;
    }

    /** How the model's chat template family writes tools and calls. */
    ToolFormat toolFormat() {
        return prompts.toolFormat();
    }

    int queued() {
        return waiting.get();
    }

    /** Slots running a request. */
    int busy() {
        return slots - permits.availablePermits();
    }

    /**
     * Runs the request when a slot is free; text goes to {@code out} as it is produced. A cancelled request leaves the
     * queue ({@link Cancellation.Cancelled}) or stops at its next token; either counts in {@code herd_cancelled_total}.
     *
     * @param client who sent it: a slot's cache is reused only for the same client's requests
     */
    Outcome run(Request req, String client, Consumer<Sequence.Piece> out, Cancellation cancel) {
        long start = System.nanoTime();
        int[] tokens = prompts.tokens(req);
        long tokenizeNanos = System.nanoTime() - start;
        acquire(cancel);
        int slot = take(client);
        try {
            return generate(req, tokens, tokenizeNanos, slot, client, out, cancel);
        } finally {
            free(slot);
        }
    }

    private void acquire(Cancellation cancel) {
        try {
            if (permits.tryAcquire(0, TimeUnit.SECONDS)) return; // unlike tryAcquire(), honours the queue order
            if (waiting.incrementAndGet() > queueSize) {
                waiting.decrementAndGet();
                throw new ApiError(429, "rate_limit_error", null, "queue_full",
                        "the server is busy: " + queueSize + " requests are already waiting; retry later");
            }
            boolean turn;
            try {
                turn = cancel.acquire(permits);
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

    /**
     * A free slot for a request of {@code client} (null: no one's): the client's own, else one that served nobody, else
     * the one idle longest. Needs a permit.
     */
    private synchronized int take(String client) {
        int best = -1;
        for (int i = 0; i < slots; i++) {
            if (taken[i]) continue;
            if (client != null && client.equals(owners[i])) {
                best = i;
                break;
            }
            if (best < 0 || (owners[i] == null && owners[best] != null) || ((owners[i] == null) == (owners[best] == null) && used[i] < used[best])) best = i;
        }
        taken[best] = true;
        used[best] = ++uses;
        return best;
    }

    private void free(int slot) {
        synchronized (this) {
            taken[slot] = false;
        }
        permits.release();
    }

    private Outcome generate(Request req, int[] tokens, long tokenizeNanos, int slot, String client, Consumer<Sequence.Piece> out, Cancellation cancel) {
        Backend b;
        Scheduler.Slot forward;
        ChatSession session;
        synchronized (this) {
            b = backend();
            forward = scheduler.slot(slot);
            session = sessions[slot];
            // Batched and one-token evaluation round differently (logits differ by ~1e-5), enough to change a draw now
            // and then: a seeded request evaluates its whole prompt, so that it gives the same text whatever ran before.
            // Another client's request starts from nothing, so that it can learn nothing from the cache (see above).
            if (req.seed() != null || !client.equals(owners[slot])) session.forget();
            owners[slot] = client;
        }
        Model m = b.model();
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
            drop(b, e);
            throw unavailable(e);
        } catch (RuntimeException e) {
            synchronized (this) {
                if (backend == b) sessions[slot] = new ChatSession(m, forward); // what the cache holds is unknown now
            }
            throw e;
        } finally {
            forward.leave();
        }
        Generator.Result r = reply.run();
        if (cancel.cancelled()) metrics.cancelled();
        Outcome o = new Outcome(reply.text(), reply.finish(), prompt.length, reply.reused(), r.tokens().length, r.promptNanos(),
                r.decodeNanos(), renderNanos + r.firstTokenNanos(), r.decodeSteps(), seq.logprobs());
        metrics.generation(o, b.stats() == null ? Double.NaN : (b.stats().syncNanos() - sync) / 1e6 / Math.max(o.tokens(), 1));
        return o;
    }

    /**
     * The embeddings of already tokenized inputs ({@link #inputs}), one after another in a free slot. They are
     * evaluated at the slot's first positions, so its cache is forgotten: no request reuses it.
     */
    List<float[]> embed(List<int[]> inputs, Cancellation cancel) {
        acquire(cancel);
        int slot = take(null);
        Backend b = null;
        Scheduler.Slot forward = null;
        try {
            Generation generation;
            synchronized (this) {
                b = backend();
                forward = scheduler.slot(slot);
                sessions[slot].forget();
                owners[slot] = null;
                generation = new Generation(b.model(), forward);
            }
            List<float[]> out = new ArrayList<>();
            for (int[] ids : inputs) out.add(generation.embedding(ids));
            return out;
        } catch (HerdException | UncheckedIOException e) { // a lost worker
            if (b == null) throw e;
            drop(b, e);
            throw unavailable(e);
        } finally {
            if (forward != null) forward.leave();
            free(slot);
        }
    }

    /** Texts to embed, tokenized and checked before they wait for the model ({@link Prompts#inputs}). */
    List<int[]> inputs(List<String> texts) {
        return prompts.inputs(texts);
    }

    /** The model, reopened if it failed (holding this). */
    private Backend backend() {
        if (backend == null) {
            try {
                open();
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
        if (!permits.tryAcquire(slots)) return null;
        try {
            Backend b;
            synchronized (this) {
                if (backend == null) return failure + "; the model is reopened on the next request";
                b = backend;
            }
            List<String> lost = b.unanswered().apply(ANSWER_MS);
            if (lost.isEmpty()) return null;
            drop(b, new HerdException("lost worker " + String.join(", lost worker ", lost)));
            synchronized (this) {
                return failure;
            }
        } finally {
            permits.release(slots);
        }
    }

    /** Closes {@code failed} if it is still the model: the requests running on it fail, the next one reopens it. */
    private synchronized void drop(Backend failed, RuntimeException cause) {
        if (backend != failed) return;
        failure = cause.getMessage();
        System.err.println("herd api: the model failed (" + cause.getMessage() + "); it is reopened on the next request");
        close(backend, scheduler);
        backend = null;
        scheduler = null;
        sessions = null;
        Arrays.fill(owners, null);
    }

    private static void close(Backend b, Scheduler s) {
        try {
            s.close();
            b.close().run();
        } catch (RuntimeException e) {
            System.err.println("herd api: closing the model: " + e.getMessage());
        }
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

    /** Waits for the running generations to end, then closes the model. */
    @Override
    public void close() {
        permits.acquireUninterruptibly(slots);
        try {
            synchronized (this) {
                if (backend != null) close(backend, scheduler);
                backend = null;
            }
        } finally {
            permits.release(slots);
        }
    }
}
