package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.engine.Rows;
import dev.herd.engine.Sync;
import dev.herd.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The root's side of every forward pass: it sends each worker the batch's embeddings (rows as the model stores them,
 * so nothing is lost) and where each row is in the KV cache, all-reduces the partial sums, and finally gathers the logits slices. The all-reduce is a
 * {@link Mesh} when the cluster runs one (and the vectors are small enough), else a star through the root: it
 * gathers the workers' partial sums, adds them in node order and sends the total back (every node then holds the
 * same values).
 */
final class RootSync implements Sync {
    private final List<Wire> workers;
    private final SplitPlan plan;
    private final Tensor embedding;
    private final SyncCodec codec;
    private final int vocab;
    private final Stats stats;
    private final boolean mesh;
    private final Mesh.Links links;
    private byte[] buf = new byte[0];
    private float[] scratch = new float[0];
    private float[] logits = new float[0];
    private int localVocab;

    RootSync(List<Wire> workers, SplitPlan plan, Tensor embedding, SyncCodec codec, int vocab, Stats stats, boolean mesh) {
        this.mesh = mesh;
        this.links = new Mesh.Links() {
            @Override
            public void send(int node, Message m) {
                RootSync.send(workers.get(node - 1), m);
            }

            @Override
            public Message receive(int node, int bytes) {
                return partial(workers.get(node - 1), bytes);
            }
        };
        this.workers = workers;
        this.plan = plan;
        this.embedding = embedding;
        this.codec = codec;
        this.vocab = vocab;
        this.stats = stats;
        this.localVocab = plan.slice(0).vocab();
    }

    @Override
    public int vocab(int local) {
        return vocab;
    }

    @Override
    public void start(int[] tokens, int from, Rows rows, Logits mode) {
        long t0 = System.nanoTime();
        int n = rows.n();
        Message.Builder b = new Message.Builder(Message.FORWARD).i32(n).i32(mode.ordinal()).i32(rows.each() ? 1 : 0);
        for (int i = 0; i < n; i++) b.i32(rows.base(i)).i32(rows.pos(i));
        for (int i = 0; i < n; i++) {
            MemorySegment row = embedding.data().asSlice(tokens[from + i] * embedding.rowBytes(), embedding.rowBytes());
            b.raw(row);
        }
        Message m = b.build();
        for (Wire w : workers) send(w, m);
        stats.sync(System.nanoTime() - t0);
    }

    @Override
    public void allReduce(float[] v, int batch, int dim) {
        long t0 = System.nanoTime();
        int n = batch * dim, bytes = codec.bytes(n);
        if (buf.length < bytes) buf = new byte[bytes];
        if (scratch.length < n) scratch = new float[n];
        if (mesh && bytes <= Mesh.MAX_BYTES) {
            Mesh.allReduce(codec, v, n, buf, scratch, workers.size() + 1, 0, links);
            stats.sync(System.nanoTime() - t0);
            return;
        }
        for (Wire w : workers) codec.decode(partial(w, bytes).payload(), n, v, scratch, true);
        codec.encode(v, n, buf);
        if (codec == SyncCodec.Q80) codec.decode(buf, n, v, scratch, false); // hold exactly what the workers get
        Message sum = new Message(Message.SUM, buf, bytes);
        for (Wire w : workers) send(w, sum);
        stats.sync(System.nanoTime() - t0);
    }

    @Override
    public float[] gather(float[] local, int batch) {
        long t0 = System.nanoTime();
        if (logits.length < batch * vocab) logits = new float[batch * vocab];
        for (int b = 0; b < batch; b++) System.arraycopy(local, b * localVocab, logits, b * vocab, localVocab);
        for (int i = 0; i < workers.size(); i++) {
            Wire w = workers.get(i);
            SplitPlan.Slice s = plan.slice(i + 1);
            Message m = receive(w, Message.LOGITS, LogitsCodec.maxBytes(codec, batch, s.vocab()));
            try {
                LogitsCodec.decode(codec, m.payload(), m.length(), batch, s.vocab(), logits, s.vocabFrom(), vocab);
            } catch (Wire.ProtocolException e) {
                throw new Wire.ProtocolException(w.peer() + ": " + e.getMessage());
            }
        }
        stats.sync(System.nanoTime() - t0);
        return logits;
    }

    private static Message partial(Wire w, int bytes) {
        Message m = receive(w, Message.PARTIAL, bytes);
        if (m.length() != bytes) throw new Wire.ProtocolException(w.peer() + ": partial sum of " + m.length() + " bytes, expected " + bytes);
        return m;
    }

    private static void send(Wire w, Message m) {
        try {
            w.send(m);
        } catch (IOException e) {
            throw lost(w, e);
        }
    }

    private static Message receive(Wire w, int type, int max) {
        try {
            return w.expect(type, max);
        } catch (IOException e) {
            throw lost(w, e);
        } catch (HerdException e) {
            throw new HerdException("lost worker " + w.peer() + ": " + e.getMessage(), e);
        }
    }

    static HerdException lost(Wire w, IOException e) {
        return new HerdException("lost worker " + w.peer() + ": " + e.getMessage(), e);
    }
}
