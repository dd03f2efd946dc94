package dev.herd.cluster;

import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;

/**
 * The links between the workers of a mesh session. Each worker connects to every higher node (at the address the
 * root reached it by) and accepts the lower ones on its own listening socket; a connect completes in the listen
 * backlog, so no order of starts can deadlock. Connections that are not a valid PEER link of this session (another
 * root, a stray client, a wrong key) are logged and closed, and the worker goes on waiting for its peers.
 */
final class Peers {
    static final int SETUP_MS = 30_000;

    private Peers() {}

    /** Links by node index: the root's wire at 0, null for this node, the other workers' wires elsewhere. */
    static Wire[] open(PlanMessage plan, Wire root, ServerSocket server, byte[] key, PrintStream log) throws IOException {
        int me = plan.node(), nodes = plan.nodes();
        Wire[] links = new Wire[nodes];
        links[0] = root;
        try {
            for (int k = me + 1; k < nodes; k++) {
                Wire w = Cluster.open(plan.workers().get(k - 1));
                links[k] = w;
                w.send(Handshake.peer(plan.token(), me, k, key));
            }
            long deadline = System.currentTimeMillis() + SETUP_MS;
            for (int missing = me - 1; missing > 0; ) {
                server.setSoTimeout((int) Math.max(1, deadline - System.currentTimeMillis()));
                Socket s;
                try {
                    s = server.accept();
                } catch (SocketTimeoutException e) {
                    throw new IOException(missing + " lower worker(s) did not connect within " + SETUP_MS / 1000 + " s");
                }
                Wire w = new Wire(s, s.getRemoteSocketAddress().toString().replaceFirst("^/", ""));
                try {
                    w.timeout(Worker.HANDSHAKE_MS);
                    int from = Handshake.acceptPeer(w.receive(Handshake.MAX_HELLO), plan.token(), me, nodes, key);
                    if (links[from] != null) throw new Wire.ProtocolException("a second link from node " + from);
                    links[from] = w;
                    missing--;
                } catch (Wire.ProtocolException | IOException e) {
                    log.println("rejected " + w.peer() + " while waiting for peers: " + e.getMessage());
                    w.close();
                }
            }
            for (int k = 1; k < nodes; k++) if (links[k] != null) links[k].timeout(Worker.SILENCE_MS);
            return links;
        } catch (IOException | RuntimeException e) {
            close(links);
            throw e;
        } finally {
            server.setSoTimeout(0);
        }
    }

    /** Closes the links to other workers (not the root's). */
    static void close(Wire[] links) {
        for (int k = 1; k < links.length; k++) if (links[k] != null) links[k].close();
    }
}
