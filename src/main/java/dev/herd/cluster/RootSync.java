package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.engine.Sync;
import dev.herd.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The root's side of every forward pass, a star through the root: it sends each worker the batch's embeddings (rows
 * as the model stores them, so nothing is lost), gathers the workers' partial sums, adds them in node order, sends
 * the total back (every node then holds the same values) and finally gathers the logits slices.
 */
final class RootSync implements Sync {
    private final List<Wire> workers;
    private final SplitPlan plan;
    private final Tensor embedding;
    private final SyncCodec codec;
    private final int vocab;
    private final Stats stats;
    private final boolean exchange;
    private byte[] buf = new byte[0];
    private float[] scratch = new float[0];
    private float[] logits = new float[0];
    private int localVocab;

    RootSync(List<Wire> workers, SplitPlan plan, Tensor embedding, SyncCodec codec, int vocab, Stats stats, boolean exchange) {
        this.exchange = exchange;
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
    public void start(int[] tokens, int from, int n, int pos, Logits mode) {
        long t0 = System.nanoTime();
        Message.Builder b = new Message.Builder(Message.FORWARD).i32(pos).i32(n).i32(mode.ordinal());
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
        if (exchange && bytes <= Exchange.MAX_BYTES) {
            Wire w = workers.getFirst();
            Exchange.swap(codec, v, n, buf, scratch, () -> send(w, new Message(Message.PARTIAL, buf, bytes)),
                    () -> receive(w, Message.PARTIAL, bytes));
            stats.sync(System.nanoTime() - t0);
            return;
        }
        for (Wire w : workers) {
            Message m = receive(w, Message.PARTIAL, bytes);
            if (m.length() != bytes) throw new Wire.ProtocolException(w.peer() + ": partial sum of " + m.length() + " bytes, expected " + bytes);
            codec.decode(m.payload(), n, v, scratch, true);
        }
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
            int bytes = LogitsCodec.bytes(codec, batch, s.vocab());
            Message m = receive(w, Message.LOGITS, bytes);
            if (m.length() != bytes) throw new Wire.ProtocolException(w.peer() + ": logits of " + m.length() + " bytes, expected " + bytes);
            LogitsCodec.decode(codec, m.payload(), batch, s.vocab(), logits, s.vocabFrom(), vocab);
        }
        stats.sync(System.nanoTime() - t0);
        return logits;
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
