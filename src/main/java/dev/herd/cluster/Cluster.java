package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.engine.KvCache;
import dev.herd.engine.Llama;
import dev.herd.engine.Model;
import dev.herd.format.GgufFile;
import dev.herd.model.LlamaConfig;
import dev.herd.model.Weights;
import dev.herd.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * The root's view of a cluster: connections to the workers (node i+1 is the i-th address), the weight streaming at
 * start-up, and the heartbeat that keeps idle workers from giving up on the root.
 */
public final class Cluster implements AutoCloseable {
    static final int CHUNK = 1 << 20;
    /**
     * How partial sums are all-reduced: a mesh (every node sends to every other: one network hop per sync, but
     * N(N-1) messages) or a star through the root (two hops, 2(N-1) messages). Measured on the emulated LAN
     * (docs/cluster.md) the mesh is faster up to 4 nodes and the star at 8, so by default a mesh up to
     * {@value #MESH_NODES} nodes; {@code -Dherd.sync=mesh} or {@code star} forces one, to compare them.
     */
    static final String SYNC = System.getProperty("herd.sync", "auto");
    static final int MESH_NODES = 4;

    static boolean mesh(int nodes) {
        return switch (SYNC) {
            case "mesh" -> true;
            case "star" -> false;
            default -> nodes <= MESH_NODES;
        };
    }
    static final int HEARTBEAT_MS = 2_000;
    /** The root's whole handshake with one worker, which may wait {@link Worker#BUSY_MS} for its previous session to end. */
    static final int HANDSHAKE_MS = Worker.HANDSHAKE_MS + Worker.BUSY_MS + 5_000;
    static final int REPLY_MS = 120_000; // a worker's longest silence within a forward pass or while loading
    private static final int CONNECT_TRIES = 12;

    private final List<Wire> workers;
    private final Stats stats;
    private final Arena arena = Arena.ofShared();
    private final Thread heartbeat;
    private volatile boolean closed;

    private Cluster(List<Wire> workers) {
        this.workers = workers;
        this.stats = new Stats(workers);
        this.heartbeat = Thread.ofPlatform().daemon().name("herd-heartbeat").start(this::beat);
    }

    public int nodes() {
        return workers.size() + 1;
    }

    public Stats stats() {
        return stats;
    }

    /** Connects to every worker (retrying with back-off while it starts) and opens a session with each. */
    public static Cluster connect(List<String> addresses, GgufFile file, byte[] key, PrintStream log) {
        byte[] fingerprint = fingerprint(file);
        List<Wire> wires = new ArrayList<>();
        try {
            for (int i = 0; i < addresses.size(); i++) {
                Wire w = open(addresses.get(i));
                wires.add(w);
                w.deadline(HANDSHAKE_MS);
                Handshake.asRoot(w, fingerprint, i + 1, addresses.size() + 1, key);
                w.deadline(0);
                w.timeout(REPLY_MS);
                log.printf("worker %s: node %d of %d%n", w.peer(), i + 1, addresses.size() + 1);
            }
        } catch (IOException e) {
            wires.forEach(Wire::close);
            throw new HerdException("worker " + addresses.get(wires.size() - 1) + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            wires.forEach(Wire::close);
            throw e;
        }
        return new Cluster(wires);
    }

    static Wire open(String address) throws IOException {
        int colon = address.lastIndexOf(':');
        if (colon <= 0) throw new HerdException("worker address '" + address + "' is not host:port");
        String host = address.substring(0, colon);
        int port;
        try {
            port = Integer.parseInt(address.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new HerdException("worker address '" + address + "' has no valid port");
        }
        long delay = 100;
        for (int attempt = 1; ; attempt++) {
            Socket s = new Socket();
            try {
                s.connect(new InetSocketAddress(host, port), 5_000);
                return new Wire(s, address);
            } catch (UnknownHostException e) {
                s.close();
                throw new HerdException("worker " + address + ": unknown host");
            } catch (ConnectException | SocketTimeoutException e) {
                s.close();
                if (attempt == CONNECT_TRIES) throw new HerdException("cannot connect to worker " + address + " (" + e.getMessage() + ", tried " + attempt + " times)");
                sleep(delay);
                delay = Math.min(delay * 2, 2_000);
            }
        }
    }

    /**
     * Splits the model: sends each worker its plan and streams its slice (all workers at once), keeps the root's
     * own slice (rows as views of the mapped file, column slices copied), and returns the root's forward pass.
     */
    public Llama load(GgufFile file, LlamaConfig c, int maxSeqLen, int threads, SyncCodec codec, KvCache.Storage kv, Progress progress) {
        return load(file, c, maxSeqLen, threads, codec, kv, progress, mesh(nodes()));
    }

    Llama load(GgufFile file, LlamaConfig c, int maxSeqLen, int threads, SyncCodec codec, KvCache.Storage kv, Progress progress, boolean mesh) {
        Weights full = Weights.from(file, c);
        SplitPlan plan = SplitPlan.of(c, Arrays.stream(full.layers()).map(l -> l.o().type()).toList(),
                Arrays.stream(full.layers()).map(l -> l.down().type()).toList(), nodes());
        if (codec == SyncCodec.Q80 && c.dim() % 32 != 0) throw new HerdException("--buffer-float-type q80 needs a model dim divisible by 32; use f32");
        boolean rope = full.ropeFreqs() != null;
        Map<String, Tensor> source = tensors(full, c);
        long total = 0;
        List<List<SplitPlan.Part>> partsOf = new ArrayList<>();
        for (int node = 0; node < nodes(); node++) {
            List<SplitPlan.Part> parts = plan.parts(c, node, rope);
            partsOf.add(parts);
            if (node > 0) for (SplitPlan.Part p : parts) total += p.bytes(source.get(p.name()).type());
        }
        AtomicLong done = new AtomicLong();
        long all = total;
        List<String> addresses = workers.stream().map(Wire::peer).toList();
        byte[] token = Handshake.nonce();
        List<Thread> senders = new ArrayList<>();
        List<RuntimeException> failures = new ArrayList<>();
        for (int i = 0; i < workers.size(); i++) {
            Wire w = workers.get(i);
            List<SplitPlan.Part> parts = partsOf.get(i + 1);
            PlanMessage pm = new PlanMessage(c, i + 1, nodes(), maxSeqLen, codec, full.tokenEmbd().type(), rope,
                    parts.stream().map(p -> source.get(p.name()).type()).toList(), kv == KvCache.Storage.DISK,
                    mesh, addresses, token);
            senders.add(Thread.ofPlatform().name("herd-load-" + w.peer()).start(() -> {
                try {
                    w.send(pm.encode());
                    stream(w, parts, source, n -> progress.update(done.addAndGet(n), all));
                    w.expect(Message.LOADED, 0);
                } catch (IOException e) {
                    synchronized (failures) { failures.add(RootSync.lost(w, e)); }
                } catch (RuntimeException e) {
                    synchronized (failures) { failures.add(new HerdException("worker " + w.peer() + ": " + e.getMessage(), e)); }
                }
            }));
        }
        for (Thread t : senders) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new HerdException("interrupted while loading the workers");
            }
        }
        if (!failures.isEmpty()) throw failures.getFirst();
        Map<String, Tensor> mine = new LinkedHashMap<>();
        for (SplitPlan.Part p : partsOf.getFirst()) mine.put(p.name(), TensorSlices.cut(source.get(p.name()), p, arena));
        mine.put("token_embd.weight", full.tokenEmbd());
        LlamaConfig local = plan.local(c, 0);
        Weights weights = Weights.from(Weights.Source.of(mine, file.path().toString()), local, c.vocab());
        return new Llama(local, weights, maxSeqLen, threads, Model.BATCH,
                new RootSync(workers, plan, full.tokenEmbd(), codec, c.vocab(), stats, mesh), kv);
    }

    /** Bytes streamed so far of the total, for a progress bar. */
    @FunctionalInterface
    public interface Progress {
        void update(long done, long total);
    }

    /** The full tensors by the names the plan uses (a tied output is the embedding). */
    private static Map<String, Tensor> tensors(Weights w, LlamaConfig c) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (int l = 0; l < c.layers(); l++) {
            Weights.Layer x = w.layers()[l];
            String b = "blk." + l + ".";
            m.put(b + "attn_norm.weight", x.attnNorm());
            m.put(b + "attn_q.weight", x.q());
            m.put(b + "attn_k.weight", x.k());
            m.put(b + "attn_v.weight", x.v());
            m.put(b + "attn_output.weight", x.o());
            if (x.qNorm() != null) m.put(b + "attn_q_norm.weight", x.qNorm());
            if (x.kNorm() != null) m.put(b + "attn_k_norm.weight", x.kNorm());
            m.put(b + "ffn_norm.weight", x.ffnNorm());
            m.put(b + "ffn_gate.weight", x.gate());
            m.put(b + "ffn_up.weight", x.up());
            m.put(b + "ffn_down.weight", x.down());
        }
        m.put("output_norm.weight", w.outputNorm());
        m.put("output.weight", w.output());
        if (w.ropeFreqs() != null) m.put("rope_freqs.weight", w.ropeFreqs());
        return m;
    }

    /** Sends every part as WEIGHTS messages of at most CHUNK bytes: {@code i32 part, i64 offset, bytes}. */
    private static void stream(Wire w, List<SplitPlan.Part> parts, Map<String, Tensor> source, LongConsumer sent) throws IOException {
        byte[] frame = new byte[HEADER + CHUNK]; // one buffer for every frame: part, offset, then the bytes
        for (int i = 0; i < parts.size(); i++) {
            SplitPlan.Part p = parts.get(i);
            int part = i;
            long[] offset = {0};
            int[] fill = {0};
            TensorSlices.stream(source.get(p.name()), p, CHUNK, piece -> {
                for (long at = 0; at < piece.byteSize(); ) {
                    int n = (int) Math.min(piece.byteSize() - at, CHUNK - fill[0]);
                    MemorySegment.copy(piece, ValueLayout.JAVA_BYTE, at, frame, HEADER + fill[0], n);
                    fill[0] += n;
                    at += n;
                    if (fill[0] == CHUNK) {
                        w.send(weights(part, offset[0], frame, fill[0]));
                        offset[0] += fill[0];
                        sent.accept(fill[0]);
                        fill[0] = 0;
                    }
                }
            });
            if (fill[0] > 0) {
                w.send(weights(part, offset[0], frame, fill[0]));
                sent.accept(fill[0]);
            }
        }
        w.send(Message.of(Message.LOADED));
    }

    private static final int HEADER = 12;

    /** A WEIGHTS message over {@code frame}, whose bytes after the header hold the chunk. */
    private static Message weights(int part, long offset, byte[] frame, int n) {
        ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN).putInt(part).putLong(offset);
        return new Message(Message.WEIGHTS, frame, HEADER + n);
    }

    /** A digest of the model's shape and tensor directory: identifies the model in the handshake and logs. */
    static byte[] fingerprint(GgufFile f) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            for (GgufFile.TensorInfo t : f.tensors().values()) {
                d.update((t.name() + ":" + t.typeId() + ":" + Arrays.toString(t.dims()) + ";").getBytes(StandardCharsets.UTF_8));
            }
            return d.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    /** Pings idle workers so they know the root is alive (their reads time out after Worker.SILENCE_MS). */
    private void beat() {
        while (!closed) {
            sleep(HEARTBEAT_MS);
            for (Wire w : workers) {
                if (closed) return;
                try {
                    if (w.idleMillis() >= HEARTBEAT_MS) w.send(Message.of(Message.PING));
                } catch (IOException e) {
                    // a dead worker is reported by the next forward pass, which names it
                }
            }
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
        heartbeat.interrupt();
        for (Wire w : workers) {
            try {
                w.send(Message.of(Message.BYE));
            } catch (IOException e) {
                // already gone
            }
            w.close();
        }
        arena.close();
    }
}
