package dev.herd.cluster;

import java.io.IOException;

/**
 * A worker's heartbeat to its root while the root may be waiting on it (loading, or in a forward pass): a PING after
 * every {@link Cluster#HEARTBEAT_MS} of silence, so that the root's read timeout tells a slow worker from a frozen or
 * cut-off one in seconds. Quiet while the worker waits for the root, whose socket would otherwise fill up.
 */
final class Pulse implements AutoCloseable {
    private final Wire wire;
    private final Thread thread;
    private volatile boolean busy = true;

    Pulse(Wire wire) {
        this.wire = wire;
        this.thread = Thread.ofPlatform().daemon().name("herd-pulse-" + wire.peer()).start(this::beat);
    }

    void busy(boolean busy) {
        this.busy = busy;
    }

    private void beat() {
        while (!Thread.currentThread().isInterrupted()) {
            try {
                Thread.sleep(Cluster.HEARTBEAT_MS / 4);
                if (busy && wire.idleMillis() >= Cluster.HEARTBEAT_MS) wire.send(Message.of(Message.PING));
            } catch (InterruptedException | IOException e) {
                return; // closed, or the connection is gone: the session notices
            }
        }
    }

    @Override
    public void close() {
        thread.interrupt();
    }
}
