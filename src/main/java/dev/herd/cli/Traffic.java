package dev.herd.cli;

import dev.herd.cluster.Stats;

/** Per-token figures as distributed-llama prints them: eval and sync ms, kB sent and received by the root. */
final class Traffic {
    private final Stats stats;
    private long sync, sent, received;
    private long decodeSync, decodeSent, decodeReceived;
    private boolean first = true;

    record Step(double evalMs, double syncMs, long sent, long received) {
        @Override
        public String toString() {
            return String.format("%8.2f ms Sync %7.2f ms | Sent %7.1f kB Recv %7.1f kB", evalMs, syncMs, sent / 1000.0, received / 1000.0);
        }
    }

    /** Counts from now: what the cluster moved before (loading, warm-up) is not the first token's. */
    Traffic(Stats stats) {
        this.stats = stats;
        if (stats != null) {
            sync = stats.syncNanos();
            sent = stats.sent();
            received = stats.received();
        }
    }

    /** The figures of the step that took {@code nanos} in all, since the previous call. */
    Step step(long nanos) {
        if (stats == null) return new Step(nanos / 1e6, 0, 0, 0);
        long s = stats.syncNanos() - sync, tx = stats.sent() - sent, rx = stats.received() - received;
        sync += s;
        sent += tx;
        received += rx;
        if (!first) {
            decodeSync += s;
            decodeSent += tx;
            decodeReceived += rx;
        }
        first = false;
        return new Step((nanos - s) / 1e6, s / 1e6, tx, rx);
    }

    double decodeSyncMs() {
        return decodeSync / 1e6;
    }

    long decodeSent() {
        return decodeSent;
    }

    long decodeReceived() {
        return decodeReceived;
    }
}
