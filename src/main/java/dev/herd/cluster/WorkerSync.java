package dev.herd.cluster;

import dev.herd.engine.Rows;
import dev.herd.engine.Sync;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * A worker's side of a forward pass: all-reduce the partial sums (with every node at once in a {@link Mesh}, or send
 * it to the root and take back the total), then send the logits slice to the root.
 */
final class WorkerSync implements Sync {
    private final Wire root;
    private final SyncCodec codec;
    private final int localVocab;
    /** Links by node index in a mesh (the root's at 0, null for this node), or null for a star. */
    private final Wire[] mesh;
    private final int me;
    private final List<String> workers;
    private final Mesh.Links links = new Mesh.Links() {
        @Override
        public void send(int node, Message m) {
            try {
                mesh[node].send(m);
            } catch (IOException e) {
                throw new UncheckedIOException(name(node) + ": " + e.getMessage(), e);
            }
        }

        @Override
        public Message receive(int node, int bytes) {
            try {
                Message m = Worker.next(mesh[node], Message.PARTIAL, bytes);
                if (m.length() != bytes) throw new Wire.ProtocolException(name(node) + ": partial sum of " + m.length() + " bytes, expected " + bytes);
                return m;
            } catch (IOException e) {
                throw new UncheckedIOException(name(node) + ": " + e.getMessage(), e);
            }
        }
    };
    private float[] scratch = new float[0];
    private byte[] buf = new byte[0];
    private byte[] logits = new byte[0];

    /** {@code workers}: the addresses of nodes 1..N-1, to name a lost peer. */
    WorkerSync(Wire root, SyncCodec codec, int localVocab, Wire[] mesh, int me, List<String> workers) {
        this.mesh = mesh;
        this.me = me;
        this.workers = workers;
        this.root = root;
        this.codec = codec;
        this.localVocab = localVocab;
    }

    @Override
    public void start(int[] tokens, int from, Rows rows, Logits mode) {
        throw new IllegalStateException("only the root starts a forward pass");
    }

    @Override
    public void allReduce(float[] v, int batch, int dim) {
        int n = batch * dim, bytes = codec.bytes(n);
        if (buf.length < bytes) buf = new byte[bytes];
        if (mesh != null && bytes <= Mesh.MAX_BYTES) {
            if (scratch.length < n) scratch = new float[n];
            Mesh.allReduce(codec, v, n, buf, scratch, mesh.length, me, links);
            return;
        }
        codec.encode(v, n, buf);
        try {
            root.send(new Message(Message.PARTIAL, buf, bytes));
            Message sum = Worker.next(root, Message.SUM, bytes);
            if (sum.length() != bytes) throw new Wire.ProtocolException(root.peer() + ": sum of " + sum.length() + " bytes, expected " + bytes);
            codec.decode(sum.payload(), n, v, null, false);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private String name(int node) {
        return node == 0 ? "root " + mesh[0].peer() : "peer node " + node + " (" + workers.get(node - 1) + ")";
    }

    @Override
    public float[] gather(float[] local, int batch) {
        int max = LogitsCodec.maxBytes(codec, batch, localVocab);
        if (logits.length < max) logits = new byte[max];
        int bytes = LogitsCodec.encode(codec, local, batch, localVocab, logits);
        try {
            root.send(new Message(Message.LOGITS, logits, bytes));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return local;
    }
}
