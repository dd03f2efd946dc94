package dev.herd.engine;

import dev.herd.HerdException;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching: the generations of up to {@link Llama#slots} requests run at once, each in its own slot (its
 * region of the KV cache). Each request's thread runs its generation as if alone ({@link Generation} on its
 * {@link Slot}, a {@link Forward}) and waits in each forward pass; this scheduler's thread gathers what the slots ask
 * for into steps. A step is one pass over the next token of every slot that is decoding ({@link Llama#decode}: each
 * row gives exactly what it gives alone, so a request's text does not depend on what else runs), then the next chunk
 * of the oldest waiting prompts (or texts to embed), each in its own pass as it would run alone, up to a batch of
 * tokens in all: a long prompt does not stall the others, and prompts that arrive together start together. A request
 * joins at the next step and leaves when its generation ends. A failed pass fails the requests that were in it.
 */
public final class Scheduler implements AutoCloseable {
    /**
     * How long a step waits for slots still handling their last token (sampling it, streaming its text): long enough
     * for a thread of a loaded machine to get a core (with 5 ms, two streams on a machine with a load of 8 fell out of
     * step and alternated, one row per step), short enough that a client slow to read costs the others little.
     */
    static final long GATHER_NANOS = 50_000_000L;

    private enum Job { NONE, PROMPT, HIDDEN, NEXT }

    private final Llama llama;
    private final Slot[] slots;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final ArrayDeque<Slot> prompts = new ArrayDeque<>(); // in arrival order
    private final Slot[] step, chunks;
    private final int[] stepSlots, stepTokens, stepPositions;
    private final Thread thread;
    private boolean closed; // guarded by lock

    public Scheduler(Llama llama) {
        this.llama = llama;
        int n = llama.slots();
        slots = new Slot[n];
        for (int i = 0; i < n; i++) slots[i] = new Slot(i);
        step = new Slot[n];
        chunks = new Slot[n];
        stepSlots = new int[n];
        stepTokens = new int[n];
        stepPositions = new int[n];
        thread = Thread.ofPlatform().daemon().name("herd-scheduler").start(this::loop);
    }

    public int size() {
        return slots.length;
    }

    public Slot slot(int index) {
        return slots[index];
    }

    /** One slot: the forward pass of the generation that holds it. One generation at a time. */
    public final class Slot implements Forward {
        private final int index;
        private final Condition done = lock.newCondition();
        private final float[] logits = new float[llama.vocab()];
        // The job, set by the slot's thread while it holds the lock, then read by the scheduler's until it is done.
        private Job job = Job.NONE;
        private boolean active; // in a generation: a step waits a moment for its next token
        private int[] tokens;
        private int from, pos, token;
        private double[] sum;
        private RuntimeException error;

        private Slot(int index) {
            this.index = index;
        }

        public int index() {
            return index;
        }

        @Override
        public float[] prompt(int[] tokens, int startPos) {
            if (tokens.length == 0 || startPos < 0 || startPos > llama.maxSeqLen() - tokens.length) {
                throw new HerdException("positions " + startPos + ".." + (startPos + tokens.length - 1) + " exceed the context of " + llama.maxSeqLen() + " tokens");
            }
            submit(Job.PROMPT, tokens, startPos, 0, null);
            return logits;
        }

        @Override
        public float[] next(int token, int pos) {
            submit(Job.NEXT, null, pos, token, null);
            return logits;
        }

        @Override
        public double[] hiddenSum(int[] tokens) {
            if (tokens.length > llama.maxSeqLen()) throw new HerdException(tokens.length + " tokens exceed the context of " + llama.maxSeqLen() + " tokens");
            double[] sum = new double[llama.config.dim()];
            if (tokens.length > 0) submit(Job.HIDDEN, tokens, 0, 0, sum);
            return sum;
        }

        @Override
        public int maxSeqLen() {
            return llama.maxSeqLen();
        }

        /** The generation on this slot has ended: steps no longer wait for it. */
        public void leave() {
            lock.lock();
            try {
                active = false;
                work.signal();
            } finally {
                lock.unlock();
            }
        }

        private void submit(Job kind, int[] tokens, int pos, int token, double[] sum) {
            lock.lock();
            try {
                if (closed) throw new HerdException("the model was closed");
                if (job != Job.NONE) throw new IllegalStateException("slot " + index + " runs one generation at a time");
                this.job = kind;
                this.tokens = tokens;
                this.from = 0;
                this.pos = pos;
                this.token = token;
                this.sum = sum;
                this.error = null;
                active = true;
                if (kind != Job.NEXT) prompts.add(this);
                work.signal();
                while (job != Job.NONE) done.awaitUninterruptibly();
                if (error != null) throw error;
            } finally {
                lock.unlock();
            }
        }

        /** Ends the job (the scheduler's thread, holding the lock). */
        private void finish(RuntimeException failure) {
            error = failure;
            job = Job.NONE;
            tokens = null;
            sum = null;
            done.signal();
        }
    }

    private void loop() {
        while (true) {
            int n = 0, c = 0;
            lock.lock();
            try {
                while (!closed && !pending()) work.awaitUninterruptibly();
                long deadline = System.nanoTime() + GATHER_NANOS;
                for (long left; !closed && waitingFor() && (left = deadline - System.nanoTime()) > 0; ) {
                    try {
                        work.await(left, TimeUnit.NANOSECONDS);
                    } catch (InterruptedException e) {
                        closed = true; // only close() interrupts: nothing to wait for then
                    }
                }
                if (closed) return;
                for (Slot s : slots) {
                    if (s.job != Job.NEXT) continue;
                    step[n] = s;
                    stepSlots[n] = s.index;
                    stepTokens[n] = s.token;
                    stepPositions[n++] = s.pos;
                }
                int budget = llama.batchSize();
                for (Slot s : prompts) {
                    int tokens = Math.min(llama.batchSize(), s.tokens.length - s.from);
                    if (c > 0 && tokens > budget) break;
                    chunks[c++] = s;
                    budget -= tokens;
                }
            } finally {
                lock.unlock();
            }
            if (n > 0) decode(n);
            for (int i = 0; i < c; i++) chunk(chunks[i]);
        }
    }

    private boolean pending() {
        for (Slot s : slots) if (s.job != Job.NONE) return true;
        return false;
    }

    /** Whether a slot in a generation has not asked for its next pass yet. */
    private boolean waitingFor() {
        for (Slot s : slots) if (s.active && s.job == Job.NONE) return true;
        return false;
    }

    private void decode(int n) {
        RuntimeException failure = null;
        try {
            float[] out = llama.decode(n, stepSlots, stepTokens, stepPositions);
            int vocab = llama.vocab();
            for (int b = 0; b < n; b++) System.arraycopy(out, b * vocab, step[b].logits, 0, vocab);
        } catch (RuntimeException | Error e) {
            failure = failure(e);
        }
        lock.lock();
        try {
            for (int b = 0; b < n; b++) step[b].finish(failure);
        } finally {
            lock.unlock();
        }
    }

    /** The next chunk of a prompt (or of text to embed), at most a batch; the last one gives the logits. */
    private void chunk(Slot s) {
        int n = Math.min(llama.batchSize(), s.tokens.length - s.from);
        boolean last = s.from + n == s.tokens.length;
        RuntimeException failure = null;
        try {
            if (s.job == Job.HIDDEN) {
                llama.hidden(s.index, s.tokens, s.from, n, s.sum);
            } else {
                float[] r = llama.chunk(s.index, s.tokens, s.from, n, s.pos + s.from, last ? Sync.Logits.LAST : Sync.Logits.NONE);
                if (last) System.arraycopy(r, 0, s.logits, 0, s.logits.length);
            }
            s.from += n;
        } catch (RuntimeException | Error e) {
            failure = failure(e);
        }
        if (!last && failure == null) return;
        lock.lock();
        try {
            prompts.remove(s);
            s.finish(failure);
        } finally {
            lock.unlock();
        }
    }

    private static RuntimeException failure(Throwable e) {
        return e instanceof RuntimeException r ? r : new HerdException("the forward pass failed: " + e, e);
    }

    /** Stops the scheduler once its current step is done; requests still waiting fail. Close it before the model. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            work.signal();
        } finally {
            lock.unlock();
        }
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        lock.lock();
        try {
            HerdException gone = new HerdException("the model was closed");
            for (Slot s : slots) if (s.job != Job.NONE) s.finish(gone);
            prompts.clear();
        } finally {
            lock.unlock();
        }
    }
}
