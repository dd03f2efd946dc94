package dev.herd.kernel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of platform threads that run each op together with the caller. An op is cut into pieces that the
 * threads claim one at a time from a shared counter, and the caller returns once every piece is done: a thread the
 * OS has not scheduled yet (the machine may have fewer free cores than threads) leaves its pieces to the others
 * instead of stalling everyone at a barrier. Publishing an op is one small record and one atomic write; nothing is
 * queued. Workers spin between ops (an op follows the previous one within microseconds while a token is computed)
 * and park only after a long idle spell, so an idle engine (waiting for a prompt) costs no CPU.
 */
public final class ComputePool implements AutoCloseable {

    /** Work split into pieces: piece {@code index} of {@code count} does its share. */
    @FunctionalInterface
    public interface Op {
        void run(int index, int count);
    }

    private static final long SPIN_NANOS = 2_000_000; // spin this long before parking
    private static final int PIECE_BITS = 20;

    private final int size;
    private final Thread[] workers;
    /** The op's number (high bits) and its next unclaimed piece (low PIECE_BITS bits). */
    private final AtomicLong claim = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    /** The current op with its number and piece count, published together so that a worker never pairs one op's
     *  number with another op's count (it would then run a stray piece and count it twice). */
    private volatile Task task;
    private long ops;

    private record Task(long id, Op op, int count) {}
    private volatile boolean closed;
    private volatile Throwable failure;

    public ComputePool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.size = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 1; i < threads; i++) {
            Thread t = Thread.ofPlatform().daemon().name("herd-compute-" + i).unstarted(this::work);
            workers[i - 1] = t;
            t.start();
        }
    }

    public int size() {
        return size;
    }

    /** Runs {@code op} as one piece per thread and returns when all are done. */
    public void run(Op op) {
        run(op, size);
    }

    /**
     * Runs pieces 0 .. count - 1 of {@code op}, each once, on whichever threads claim them (the caller included),
     * and returns when all are done. More pieces than threads balance the work when a thread starts late.
     */
    public void run(Op op, int count) {
        if (count < 1 || count >= 1 << PIECE_BITS) throw new IllegalArgumentException("pieces: " + count);
        if (size == 1) {
            for (int i = 0; i < count; i++) op.run(i, count);
            return;
        }
        done.set(0);
        Task t = new Task(++ops, op, count);
        task = t;
        claim.set(t.id << PIECE_BITS); // opens the pieces of the task just published
        for (Thread w : workers) LockSupport.unpark(w);
        claimAll(t);
        for (int spins = 0; done.get() != count; spins++) backOff(spins);
        Throwable thrown = failure;
        failure = null;
        if (thrown != null) rethrow(thrown);
    }

    /** The range [from, to) of {@code n} items that piece {@code index} of {@code count} handles. */
    public static int start(int n, int index, int count) {
        return (int) ((long) n * index / count);
    }

    /** Runs pieces of {@code t} until none is left, keeping the first exception for the caller. */
    private void claimAll(Task t) {
        for (long c = claim.get(); c >>> PIECE_BITS == t.id && (c & (1 << PIECE_BITS) - 1) < t.count; c = claim.get()) {
            if (!claim.compareAndSet(c, c + 1)) continue;
            try {
                t.op.run((int) (c & (1 << PIECE_BITS) - 1), t.count);
            } catch (Throwable e) {
                if (failure == null) failure = e; // racy, but some exception is kept; written before done counts it
            }
            done.incrementAndGet();
        }
    }

    private void work() {
        long seen = 0;
        while (!closed) {
            long spinStart = System.nanoTime();
            long c;
            for (int spins = 0; (c = claim.get()) >>> PIECE_BITS == seen && !closed; spins++) {
                if (System.nanoTime() - spinStart > SPIN_NANOS) {
                    LockSupport.parkNanos(this, 50_000_000);
                } else {
                    backOff(spins);
                }
            }
            if (closed) return;
            seen = c >>> PIECE_BITS;
            // Published before its claim number: a newer task than `seen` finds its pieces not open yet and runs none.
            Task t = task;
            if (t != null) claimAll(t);
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
