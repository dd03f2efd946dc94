package dev.herd.cluster;

import java.util.List;

/** Time spent exchanging data and bytes moved, as totals; callers take differences per token. */
public final class Stats {
    private final List<Wire> wires;
    private volatile long syncNanos;

    Stats(List<Wire> wires) {
        this.wires = wires;
    }

    void sync(long nanos) {
        syncNanos += nanos;
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
