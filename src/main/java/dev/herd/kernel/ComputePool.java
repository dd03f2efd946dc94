package dev.herd.kernel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of platform threads that run each op together with the caller, then meet at a spin barrier.
 * Publishing an op is one volatile write; nothing is queued or allocated per op. Workers spin between ops (an op
 * follows the previous one within microseconds while a token is computed) and park only after a long idle spell,
 * so an idle engine (waiting for a prompt) costs no CPU.
 */
public final class ComputePool implements AutoCloseable {

    /** Work split across threads: thread {@code index} of {@code count} does its share. */
    @FunctionalInterface
    public interface Op {
        void run(int index, int count);
    }

    private static final long SPIN_NANOS = 2_000_000; // spin this long before parking

    private final int size;
    private final Thread[] workers;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile Op op;
    private volatile long generation;
    private volatile boolean closed;
    private volatile Throwable failure;

    public ComputePool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.size = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 1; i < threads; i++) {
            int index = i;
            Thread t = Thread.ofPlatform().daemon().name("herd-compute-" + i).unstarted(() -> work(index));
            workers[i - 1] = t;
            t.start();
        }
    }

    public int size() {
        return size;
    }

    /** Runs {@code op} on every thread (the caller is thread 0) and returns when all are done. */
    public void run(Op op) {
        if (size == 1) {
            op.run(0, 1);
            return;
        }
        this.op = op;
        pending.set(size - 1);
        generation = generation + 1; // publishes op
        for (Thread w : workers) LockSupport.unpark(w);
        Throwable mine = null;
        try {
            op.run(0, size);
        } catch (Throwable t) {
            mine = t;
        }
        for (int spins = 0; pending.get() != 0; spins++) backOff(spins);
        this.op = null;
        Throwable theirs = failure;
        failure = null;
        if (mine != null) rethrow(mine);
        if (theirs != null) rethrow(theirs);
    }

    /** The range [from, to) of {@code n} items that thread {@code index} of {@code count} handles. */
    public static int start(int n, int index, int count) {
        return (int) ((long) n * index / count);
    }

    private void work(int index) {
        long seen = 0;
        while (!closed) {
            long spinStart = System.nanoTime();
            for (int spins = 0; generation == seen && !closed; spins++) {
                if (System.nanoTime() - spinStart > SPIN_NANOS) {
                    LockSupport.parkNanos(this, 50_000_000);
                } else {
                    backOff(spins);
                }
            }
            if (closed) return;
            seen = generation;
            try {
                op.run(index, size);
            } catch (Throwable t) {
                failure = t;
            }
            pending.decrementAndGet();
        }
    }

    /**
     * Spins briefly, then yields: when the machine has fewer free cores than threads, the thread being waited for
     * may be off-CPU, and pure spinning then burns whole scheduler slices (milliseconds per op) before it runs.
     */
    private static void backOff(int spins) {
        if (spins < 200) {
            Thread.onSpinWait();
        } else {
            Thread.yield();
        }
    }

    private static void rethrow(Throwable t) {
        if (t instanceof RuntimeException r) throw r;
        if (t instanceof Error e) throw e;
        throw new RuntimeException(t);
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
