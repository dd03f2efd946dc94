package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.engine.KvCache;
import dev.herd.engine.Llama;
import dev.herd.engine.Model;
import dev.herd.format.GgufFile;
import dev.herd.kernel.SpeedProbe;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelTensor;
import dev.herd.model.Weights;
import dev.herd.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

import static dev.herd.model.ModelTensor.ATTN_OUTPUT;
import static dev.herd.model.ModelTensor.TOKEN_EMBD;

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

    /**
     * How long the root keeps trying to reach a worker (it may still be starting), and how long a worker may stay
     * silent while the root waits on it (a busy worker pings every {@link #HEARTBEAT_MS}, so only a frozen, gone or
     * cut-off one stays silent).
     */
    public record Timeouts(int connectMs, int workerMs) {
        public static final Timeouts DEFAULT = new Timeouts(10_000, 10_000);
    }

    private final List<Wire> workers;
    /** Each node's weight in the split (the root's first), see {@link SplitPlan}. */
    private final List<Integer> shares;
    private final List<Budget.Capacity> capacities;
    private final int workerMs;
    private final Stats stats;
    private final Arena arena = Arena.ofShared();
    private final Thread heartbeat;
    private volatile boolean closed;

    private Cluster(List<Wire> workers, List<Integer> shares, List<Budget.Capacity> capacities, int workerMs) {
        this.workers = workers;
        this.shares = List.copyOf(shares);
        this.capacities = capacities;
        this.workerMs = workerMs;
        this.stats = new Stats(workers);
        this.heartbeat = Thread.ofPlatform().daemon().name("herd-heartbeat").start(this::beat);
    }

    public int nodes() {
        return workers.size() + 1;
    }

    public Stats stats() {
        return stats;
    }

    public static Cluster connect(List<String> addresses, GgufFile file, byte[] key, PrintStream log) {
        return connect(addresses, file, key, Timeouts.DEFAULT, log);
    }

    /** Connects to every worker (retrying while it starts) and opens a session with each. */
    public static Cluster connect(List<String> addresses, GgufFile file, byte[] key, Timeouts timeouts, PrintStream log) {
        return connect(addresses, Collections.nCopies(addresses.size() + 1, 1), file, key, timeouts, log);
    }

    /** {@link #connect(List, GgufFile, byte[], Timeouts, PrintStream)} for a split by {@code shares}: the root's weight, then each worker's. */
    public static Cluster connect(List<String> addresses, List<Integer> shares, GgufFile file, byte[] key, Timeouts timeouts, PrintStream log) {
        if (shares.size() != addresses.size() + 1) throw new IllegalArgumentException(shares.size() + " weights for " + (addresses.size() + 1) + " nodes");
        List<Wire> wires = new ArrayList<>();
        List<Handshake.Ready> readies = handshakes(addresses, file, key, false, timeouts, log, wires);
        return new Cluster(wires, shares, readies.stream().map(Handshake.Ready::capacity).toList(), timeouts.workerMs());
    }

    /**
     * {@link #connect(List, GgufFile, byte[], Timeouts, PrintStream)} with shares in proportion to the speeds the nodes
     * measure ({@link Balance}): each worker's on its own threads, the root's on {@code rootThreads}.
     */
    public static Cluster connectBalanced(List<String> addresses, int rootThreads, GgufFile file, ModelConfig c, byte[] key, Timeouts timeouts, PrintStream log) {
        List<Wire> wires = new ArrayList<>();
        List<Handshake.Ready> readies = handshakes(addresses, file, key, true, timeouts, log, wires);
        try {
            long[] speeds = new long[addresses.size() + 1];
            speeds[0] = SpeedProbe.bytesPerSecond(rootThreads);
            for (int i = 0; i < readies.size(); i++) speeds[i + 1] = readies.get(i).speed();
            Weights full = Weights.from(file.source(), c);
            List<Integer> shares = Balance.shares(speeds, weights -> plan(full, c, weights), log);
            return new Cluster(wires, shares, readies.stream().map(Handshake.Ready::capacity).toList(), timeouts.workerMs());
        } catch (RuntimeException e) {
            wires.forEach(Wire::close);
            throw e;
        }
    }

    /** Connects to every worker (retrying while it starts) and opens a session with each, adding its wire to {@code wires}. */
    private static List<Handshake.Ready> handshakes(List<String> addresses, GgufFile file, byte[] key, boolean measure, Timeouts timeouts,
                                                    PrintStream log, List<Wire> wires) {
        byte[] fingerprint = fingerprint(file);
        List<Handshake.Ready> readies = new ArrayList<>();
        try {
            for (int i = 0; i < addresses.size(); i++) {
                Wire w = open(addresses.get(i), timeouts.connectMs());
                wires.add(w);
                w.deadline(HANDSHAKE_MS);
                readies.add(Handshake.asRoot(w, fingerprint, i + 1, addresses.size() + 1, key, measure));
                w.deadline(0);
                w.timeout(timeouts.workerMs());
                log.printf("worker %s: node %d of %d%n", w.peer(), i + 1, addresses.size() + 1);
            }
        } catch (IOException e) {
            wires.forEach(Wire::close);
            throw new HerdException("worker " + addresses.get(wires.size() - 1) + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            wires.forEach(Wire::close);
            throw e;
        }
        return readies;
    }

    static Wire open(String address, int connectMs) throws IOException {
        int colon = address.lastIndexOf(':');
        if (colon <= 0) throw new HerdException("worker address '" + address + "' is not host:port");
        String host = address.substring(0, colon);
        int port;
        try {
            port = Integer.parseInt(address.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new HerdException("worker address '" + address + "' has no valid port");
        }
        long start = System.nanoTime(), delay = 100;
        ConnectException refused = null;
        while (true) {
            Socket s = new Socket();
            int left = connectMs - (int) ((System.nanoTime() - start) / 1_000_000);
            try {
                s.connect(new InetSocketAddress(host, port), Math.max(left, 1));
                return new Wire(s, address);
            } catch (UnknownHostException e) {
                s.close();
                throw new HerdException("worker " + address + ": unknown host");
            } catch (SocketTimeoutException | NoRouteToHostException e) {
                s.close();
                // a port that refused before and then ran out of the time left (under load) still has nothing listening
                if (refused != null && e instanceof SocketTimeoutException) throw nothingListens(address, port, refused, connectMs);
                throw new HerdException("cannot reach worker " + address + " within " + connectMs + " ms (" + e.getMessage()
                        + "): check the address, and that no firewall blocks port " + port + "; --connect-timeout-ms sets the wait");
            } catch (ConnectException e) {
                s.close();
                refused = e;
                left = connectMs - (int) ((System.nanoTime() - start) / 1_000_000);
                if (left <= 0) throw nothingListens(address, port, e, connectMs);
                sleep(Math.min(delay, left));
                delay = Math.min(delay * 2, 1_000);
            }
        }
    }

    private static HerdException nothingListens(String address, int port, ConnectException e, int connectMs) {
        return new HerdException("nothing listens on worker " + address + " (" + e.getMessage() + " for " + connectMs
                + " ms): start `herd worker --port " + port + "` there, or correct --workers; --connect-timeout-ms sets the wait");
    }

    /**
     * The longest context every node can hold now: each worker's slice and KV cache within what it reported in its
     * handshake, and the root's KV cache within this machine's memory (or KV cache folder) as {@link KvCache} checks
     * it (the root's weights are mostly views of the mapped file).
     */
    public int positionsThatFit(GgufFile file, ModelConfig c, KvCache.Storage kv) {
        Slices s = slices(file, c);
        ModelConfig root = s.plan.local(c, 0);
        int fit = KvCache.positionsThatFit(root.layers(), root.kvHeads(), root.headDim(), kv);
        for (int node = 1; node < nodes(); node++) fit = Math.min(fit, positions(s, c, node, kv));
        return fit;
    }

    /** Positions worker {@code node} can hold beside its slice, within what it reported. */
    private int positions(Slices s, ModelConfig c, int node, KvCache.Storage kv) {
        ModelConfig local = s.plan.local(c, node);
        return Budget.positions(s.held[node], KvCache.bytesPerPosition(local.layers(), local.kvHeads(), local.headDim()),
                capacities.get(node - 1), kv.onDisk());
    }

    /**
     * The split of a model, the bytes of every node's slice as sent, and as held once loaded (a kernel layout larger
     * than the file's counts, as the worker's own check counts it).
     */
    private record Slices(Weights full, SplitPlan plan, Map<String, Tensor> source, List<List<SplitPlan.Part>> parts, long[] bytes, long[] held) {}

    private Slices slices(GgufFile file, ModelConfig c) {
        Weights full = Weights.from(file.source(), c);
        SplitPlan plan = plan(full, c, shares);
        Map<String, Tensor> source = full.byName(false);
        List<List<SplitPlan.Part>> partsOf = new ArrayList<>();
        long[] bytes = new long[nodes()], held = new long[nodes()];
        for (int node = 0; node < nodes(); node++) {
            List<SplitPlan.Part> parts = plan.parts(c, node, full.ropeFreqs() != null);
            partsOf.add(parts);
            for (SplitPlan.Part p : parts) {
                bytes[node] += p.bytes(source.get(p.name()).type());
                held[node] += Worker.loadedBytes(p, source.get(p.name()).type());
            }
        }
        return new Slices(full, plan, source, partsOf, bytes, held);
    }

    /** The split of {@code full} by {@code shares} (HerdException if they cannot split it). */
    private static SplitPlan plan(Weights full, ModelConfig c, List<Integer> shares) {
        return SplitPlan.of(c, Arrays.stream(full.layers()).map(l -> l.get(ATTN_OUTPUT).type()).toList(),
                Arrays.stream(full.layers()).flatMap(l -> ModelTensor.ffnDowns(c).stream().map(t -> l.get(t).type())).toList(), shares);
    }

    /** Refuses, before anything is sent, a context that a node cannot hold: names the node, its figures, what fits. */
    private void checkFits(Slices s, ModelConfig c, int maxSeqLen, KvCache.Storage kv) {
        ModelConfig root = s.plan.local(c, 0);
        String why = KvCache.shortfall(KvCache.bytes(root.layers(), root.kvHeads(), root.headDim(), maxSeqLen), maxSeqLen, kv);
        if (why != null) throw new HerdException("node 0 (this root): " + why);
        for (int node = 1; node < nodes(); node++) {
            ModelConfig local = s.plan.local(c, node);
            long kvBytes = KvCache.bytes(local.layers(), local.kvHeads(), local.headDim(), maxSeqLen);
            Budget.Capacity capacity = capacities.get(node - 1);
            why = Budget.shortfall(s.held[node], kvBytes, capacity, kv.onDisk());
            if (why != null) {
                int fit = positions(s, c, node, kv);
                throw new HerdException(String.format("node %d (worker %s) cannot hold a context of %d positions: its slice %s; %s: lower --max-seq-len",
                        node, workers.get(node - 1).peer(), maxSeqLen, why,
                        fit == 0 ? "not even its weights fit: add nodes or use a smaller model" : "at most " + fit + " positions fit there"));
            }
        }
    }

    /**
     * Splits the model: sends each worker its plan and streams its slice (all workers at once), keeps the root's
     * own slice (rows as views of the mapped file, column slices copied), and returns the root's forward pass, whose
     * KV cache holds {@code slots} sequences of {@code context} positions (the workers' caches hold them all).
     */
    public Llama load(GgufFile file, ModelConfig c, int context, int slots, int threads, SyncCodec codec, KvCache.Storage kv, Progress progress) {
        return load(file, c, context, slots, threads, codec, kv, progress, mesh(nodes()));
    }

    Llama load(GgufFile file, ModelConfig c, int context, int slots, int threads, SyncCodec codec, KvCache.Storage kv, Progress progress, boolean mesh) {
        int maxSeqLen = Math.multiplyExact(context, slots);
        Slices s = slices(file, c);
        Weights full = s.full;
        SplitPlan plan = s.plan;
        if (codec == SyncCodec.Q80 && c.dim() % 32 != 0) throw new HerdException("--buffer-float-type q80 needs a model dim divisible by 32; use f32");
        checkFits(s, c, maxSeqLen, kv);
        boolean rope = full.ropeFreqs() != null;
        Map<String, Tensor> source = s.source;
        List<List<SplitPlan.Part>> partsOf = s.parts;
        long total = Arrays.stream(s.bytes).skip(1).sum();
        AtomicLong done = new AtomicLong();
        long all = total;
        List<String> addresses = workers.stream().map(Wire::peer).toList();
        byte[] token = Handshake.nonce();
        List<Thread> senders = new ArrayList<>();
        List<RuntimeException> failures = new ArrayList<>();
        for (int i = 0; i < workers.size(); i++) {
            Wire w = workers.get(i);
            List<SplitPlan.Part> parts = partsOf.get(i + 1);
            PlanMessage pm = new PlanMessage(c, i + 1, nodes(), shares, plan.shape().downBlock(), maxSeqLen, codec, full.tokenEmbd().type(), rope,
                    parts.stream().map(p -> source.get(p.name()).type()).toList(), kv.onDisk(),
                    mesh, addresses, token);
            senders.add(Thread.ofPlatform().name("herd-load-" + w.peer()).start(() -> {
                try {
                    w.send(pm.encode());
                    byte[][] cached = have(w.expect(Message.HAVE, 4 + parts.size() * (8 + SliceCache.HASH)), parts.size());
                    stream(w, parts, source, cached, stats, n -> progress.update(done.addAndGet(n), all));
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
        mine.put(TOKEN_EMBD.gguf, full.tokenEmbd());
        ModelConfig local = plan.local(c, 0);
        Weights weights = Weights.from(Weights.Source.of(mine, file.path().toString()), local, c.vocab());
        return new Llama(local, weights, context, slots, threads, Model.BATCH,
                new RootSync(workers, plan, full.tokenEmbd(), codec, c.vocab(), stats, mesh), kv);
    }

    /** Bytes streamed so far of the total, for a progress bar. */
    @FunctionalInterface
    public interface Progress {
        void update(long done, long total);
    }

    /**
     * The SHA-256 of each slice the worker's HAVE says it holds (null for the others), checked against the plan: one
     * hash per listed slice, each listed once.
     */
    static byte[][] have(Message m, int parts) {
        Message.Reader r = m.reader();
        int count = r.i32();
        if (count < 0 || count > parts) throw new Wire.ProtocolException("HAVE lists " + count + " slices of " + parts);
        byte[][] hashes = new byte[parts][];
        for (int i = 0; i < count; i++) {
            int part = r.i32();
            if (part < 0 || part >= parts || hashes[part] != null) throw new Wire.ProtocolException("HAVE lists slice " + part + " of " + parts);
            hashes[part] = r.bytes(SliceCache.HASH);
            if (hashes[part].length != SliceCache.HASH) throw new Wire.ProtocolException("HAVE holds a hash of " + hashes[part].length + " bytes");
        }
        return hashes;
    }

    /**
     * Sends every part whose bytes do not hash to what the worker holds ({@code cached}) as WEIGHTS messages of at
     * most CHUNK bytes: {@code i32 part, i64 offset, bytes}; then LOADED. Reading the mapped file to hash a slice is
     * many times faster than sending it.
     */
    private static void stream(Wire w, List<SplitPlan.Part> parts, Map<String, Tensor> source, byte[][] cached, Stats stats, LongConsumer sent) throws IOException {
        byte[] frame = new byte[HEADER + CHUNK]; // one buffer for every frame: part, offset, then the bytes
        for (int i = 0; i < parts.size(); i++) {
            SplitPlan.Part p = parts.get(i);
            Tensor full = source.get(p.name());
            long start = System.nanoTime();
            boolean same = cached[i] != null && MessageDigest.isEqual(cached[i], hash(full, p));
            if (cached[i] != null) stats.hashed(System.nanoTime() - start);
            if (same) {
                long n = p.bytes(full.type());
                stats.reused(n);
                sent.accept(n);
                continue;
            }
            int part = i;
            long[] offset = {0};
            int[] fill = {0};
            TensorSlices.stream(full, p, CHUNK, piece -> {
                for (long at = 0; at < piece.byteSize(); ) {
                    int n = (int) Math.min(piece.byteSize() - at, CHUNK - fill[0]);
                    MemorySegment.copy(piece, ValueLayout.JAVA_BYTE, at, frame, HEADER + fill[0], n);
                    fill[0] += n;
                    at += n;
                    if (fill[0] == CHUNK) {
                        w.send(weights(part, offset[0], frame, fill[0]));
                        offset[0] += fill[0];
                        stats.streamed(fill[0]);
                        sent.accept(fill[0]);
                        fill[0] = 0;
                    }
                }
            });
            if (fill[0] > 0) {
                w.send(weights(part, offset[0], frame, fill[0]));
                stats.streamed(fill[0]);
                sent.accept(fill[0]);
            }
        }
        w.send(Message.of(Message.LOADED));
    }

    /** SHA-256 of a part's bytes as they would be streamed. */
    private static byte[] hash(Tensor full, SplitPlan.Part p) throws IOException {
        MessageDigest d = SliceCache.sha256();
        byte[] buffer = new byte[1 << 16];
        TensorSlices.stream(full, p, CHUNK, piece -> SliceCache.update(d, piece, buffer));
        return d.digest();
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

    /**
     * The workers that do not answer an ECHO within {@code millis} (sent to all, then awaited in turn), each as its
     * address and what went wrong; empty when all answer. Only between forward passes, which read the same
     * connections: after a failure the connections are in an unknown state, and the cluster must be formed again.
     */
    public List<String> unanswered(int millis) {
        List<String> lost = new ArrayList<>();
        List<Wire> asked = new ArrayList<>();
        for (Wire w : workers) {
            try {
                w.send(Message.of(Message.ECHO));
                asked.add(w);
            } catch (IOException e) {
                lost.add(w.peer() + ": " + e.getMessage());
            }
        }
        for (Wire w : asked) {
            try {
                w.timeout(millis);
                w.expect(Message.ECHO, 0);
                w.timeout(workerMs);
            } catch (IOException | HerdException e) {
                lost.add(e.getMessage().startsWith(w.peer()) ? e.getMessage() : w.peer() + ": " + e.getMessage());
            }
        }
        return lost;
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
