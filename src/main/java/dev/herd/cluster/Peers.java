package dev.herd.cluster;

import java.io.IOException;
import java.io.PrintStream;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The links between the workers of a mesh session. Each worker connects to every higher node (at the address the
 * root reached it by) and receives the lower ones through its listener, which hands every connection that opens with
 * a PEER message to {@link Inbox}; no order of starts can deadlock. Knocks that are not a valid PEER link of this
 * session (a stale one, a stray client, a wrong token or key) are logged and closed, and the worker goes on waiting.
 */
final class Peers {
    static final int SETUP_MS = 30_000;

    private Peers() {}

    /** A connection whose first message was a PEER knock, waiting for a mesh session to check it. */
    record Knock(Wire wire, Message peer) {}

    /**
     * Knocks that arrived during a session, before or while it waits for its peers (all of a mesh's workers are in
     * their session before any gets its plan); the oldest go first when full.
     */
    static final class Inbox {
        private final BlockingQueue<Knock> knocks = new ArrayBlockingQueue<>(8);

        /** Keeps {@code k} until a session takes it, at most until its handshake deadline closes it. */
        void add(Knock k) {
            while (!knocks.offer(k)) {
                Knock old = knocks.poll();
                if (old != null) old.wire().close();
            }
        }

        Knock take(long millis) throws InterruptedException {
            return knocks.poll(millis, TimeUnit.MILLISECONDS);
        }
    }

    /** Links by node index: the root's wire at 0, null for this node, the other workers' wires elsewhere. */
    static Wire[] open(PlanMessage plan, Wire root, Inbox inbox, byte[] key, PrintStream log) throws IOException {
        int me = plan.node(), nodes = plan.nodes();
        Wire[] links = new Wire[nodes];
        links[0] = root;
        try {
            for (int k = me + 1; k < nodes; k++) {
                Wire w = Cluster.open(plan.workers().get(k - 1), Cluster.Timeouts.DEFAULT.connectMs());
                links[k] = w;
                w.send(Handshake.peer(plan.token(), me, k, key));
                Handshake.protectPeer(w, plan.token(), me, k, me, key);
            }
            long deadline = System.currentTimeMillis() + SETUP_MS;
            for (int missing = me - 1; missing > 0; ) {
                Knock knock;
                try {
                    knock = inbox.take(Math.max(1, deadline - System.currentTimeMillis()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while waiting for peers");
                }
                if (knock == null) throw new IOException(missing + " lower worker(s) did not connect within " + SETUP_MS / 1000 + " s");
                Wire w = knock.wire();
                try {
                    int from = Handshake.acceptPeer(knock.peer(), plan.token(), me, nodes, key);
                    if (links[from] != null) throw new Wire.ProtocolException("a second link from node " + from);
                    w.deadline(0);
                    if (w.closed()) throw new Wire.ProtocolException("its knock waited past the handshake deadline");
                    Handshake.protectPeer(w, plan.token(), from, me, me, key);
                    links[from] = w;
                    missing--;
                } catch (Wire.ProtocolException e) {
                    log.println("rejected " + w.peer() + " while waiting for peers: " + e.getMessage());
                    w.close();
                }
            }
            for (int k = 1; k < nodes; k++) if (links[k] != null) links[k].timeout(Worker.SILENCE_MS);
            return links;
        } catch (IOException | RuntimeException e) {
            close(links);
            throw e;
        }
    }

    /** Closes the links to other workers (not the root's). */
    static void close(Wire[] links) {
        for (int k = 1; k < links.length; k++) if (links[k] != null) links[k].close();
    }
}
