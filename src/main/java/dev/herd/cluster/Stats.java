package dev.herd.cluster;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** Time spent exchanging data and bytes moved, as totals; callers take differences per token. */
public final class Stats {
    private final List<Wire> wires;
    private volatile long syncNanos;
    private final AtomicLong streamed = new AtomicLong(), reused = new AtomicLong(), hashNanos = new AtomicLong();

    Stats(List<Wire> wires) {
        this.wires = wires;
    }

    void sync(long nanos) {
        syncNanos += nanos;
    }

    void streamed(long bytes) {
        streamed.addAndGet(bytes);
    }

    void reused(long bytes) {
        reused.addAndGet(bytes);
    }

    void hashed(long nanos) {
        hashNanos.addAndGet(nanos);
    }

    /** Time spent hashing the root's slices to compare them with the workers' cached ones, over all workers. */
    public long hashNanos() {
        return hashNanos.get();
    }

    /** Bytes of weights streamed to the workers. */
    public long streamed() {
        return streamed.get();
    }

    /** Bytes of weights the workers had in their slice caches, identical to the root's, and were not sent. */
    public long reused() {
        return reused.get();
    }

    public long syncNanos() {
        return syncNanos;
    }

    public long sent() {
        long n = 0;
        for (Wire w : wires) n += w.sent();
        return n;
    }

    public long received() {
        long n = 0;
        for (Wire w : wires) n += w.received();
        return n;
    }
}
