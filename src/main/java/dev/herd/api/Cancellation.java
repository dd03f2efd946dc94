package dev.herd.api;

import java.util.concurrent.Semaphore;

/**
 * A request's cancellation, set once its client has gone (a failed write, or {@link ClientWatch}): a generation stops at
 * its next token, a request waiting in the queue leaves it. Only the wait in the queue is interrupted: an interrupt
 * during generation would close the cluster's sockets.
 */
final class Cancellation {
    /** The request was cancelled before its turn came. */
    static final class Cancelled extends RuntimeException {
        Cancelled() {
            super("the client has gone", null, false, false);
        }
    }

    private volatile boolean cancelled;
    private Thread waiting; // guarded by this: the request's thread while it waits for its turn

    boolean cancelled() {
        return cancelled;
    }

    synchronized void cancel() {
        cancelled = true;
        if (waiting != null) waiting.interrupt();
    }

    /**
     * Takes a permit of {@code slots} in its turn (a fair semaphore keeps the queue order); false, without a permit, if
     * the request was cancelled first.
     *
     * @throws InterruptedException on any other interrupt (the server stops)
     */
    boolean acquire(Semaphore slots) throws InterruptedException {
        synchronized (this) {
            if (cancelled) return false;
            waiting = Thread.currentThread();
        }
        boolean locked = false;
        try {
            slots.acquire();
            locked = true;
        } catch (InterruptedException e) {
            if (!cancelled) throw e;
        } finally {
            synchronized (this) { // from here on cancel() no longer interrupts this thread
                waiting = null;
                if (cancelled) Thread.interrupted(); // clears an interrupt that cancel() sent after the lock was taken
            }
        }
        if (locked && cancelled) {
            slots.release();
            return false;
        }
        return locked;
    }
}
