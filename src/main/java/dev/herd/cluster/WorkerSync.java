package dev.herd.cluster;

import dev.herd.engine.Sync;

import java.io.IOException;
import java.io.UncheckedIOException;

/** A worker's side of a forward pass: send the partial sum to the root, take back the total; send the logits slice. */
final class WorkerSync implements Sync {
    private final Wire root;
    private final SyncCodec codec;
    private final int localVocab;
    private final boolean exchange;
    private float[] scratch = new float[0];
    private byte[] buf = new byte[0];
    private byte[] logits = new byte[0];

    WorkerSync(Wire root, SyncCodec codec, int localVocab, boolean exchange) {
        this.exchange = exchange;
        this.root = root;
        this.codec = codec;
        this.localVocab = localVocab;
    }

    @Override
    public void start(int[] tokens, int from, int n, int pos, Logits mode) {
        throw new IllegalStateException("only the root starts a forward pass");
    }

    @Override
    public void allReduce(float[] v, int batch, int dim) {
        int n = batch * dim, bytes = codec.bytes(n);
        if (buf.length < bytes) buf = new byte[bytes];
        if (exchange && bytes <= Exchange.MAX_BYTES) {
            if (scratch.length < n) scratch = new float[n];
            Exchange.swap(codec, v, n, buf, scratch, () -> send(new Message(Message.PARTIAL, buf, bytes)),
                    () -> receive(Message.PARTIAL, bytes));
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

    private void send(Message m) {
        try {
            root.send(m);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Message receive(int type, int bytes) {
        try {
            Message m = Worker.next(root, type, bytes);
            if (m.length() != bytes) throw new Wire.ProtocolException(root.peer() + ": partial sum of " + m.length() + " bytes, expected " + bytes);
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public float[] gather(float[] local, int batch) {
        int bytes = LogitsCodec.bytes(codec, batch, localVocab);
        if (logits.length < bytes) logits = new byte[bytes];
        LogitsCodec.encode(codec, local, batch, localVocab, logits);
        try {
            root.send(new Message(Message.LOGITS, logits, bytes));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return local;
    }
}
