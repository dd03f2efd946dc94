package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.codec.Codecs;
import dev.herd.engine.KvCache;
import dev.herd.engine.Llama;
import dev.herd.engine.Memory;
import dev.herd.engine.Model;
import dev.herd.engine.Rows;
import dev.herd.engine.Sync;
import dev.herd.kernel.Kernels;
import dev.herd.kernel.SpeedProbe;
import dev.herd.model.ModelConfig;
import dev.herd.model.Weights;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A worker: holds no model file. It waits for a root, receives its slice of the weights, runs its share of every
 * forward pass, and when the session ends (normally, or because the root is gone) frees everything and listens again.
 * Connections are greeted concurrently (each on a virtual thread; beyond {@value #PENDING} at once, the oldest is
 * closed), each with a deadline for the whole handshake, so strangers that connect and trickle bytes cannot keep a
 * root out; one session runs at a time.
 */
public final class Worker implements AutoCloseable {
    /** The whole handshake (root) or PEER knock (worker) must arrive within this. */
    static final int HANDSHAKE_MS = 5_000;
    /** Connections in their handshake at once; a new one beyond this closes the oldest. */
    static final int PENDING = 16;
    /** How long a root that proved itself waits for a session that is ending before the worker says it is busy. */
    static final int BUSY_MS = 5_000;
    /** The root sends a heartbeat every {@link Cluster#HEARTBEAT_MS}; silence this long means it is gone (the default). */
    public static final int SILENCE_MS = 30_000;

    private final ServerSocket server;
    private final int threads;
    /** This machine's speed as last measured for a root ({@link #speed}), and when (System.nanoTime). */
    private long speed, speedAt;
    private final Path kvDir;
    private final SliceCache cache;
    private final byte[] key;
    private final PrintStream log;
    private final Deque<Socket> pending = new ConcurrentLinkedDeque<>();
    private final Semaphore slot = new Semaphore(1);
    private final Peers.Inbox peers = new Peers.Inbox();
    private volatile int rootSilenceMs = SILENCE_MS;

    /** A worker without a slice cache. */
    public Worker(String host, int port, int threads, byte[] key, PrintStream log) throws IOException {
        this(host, port, threads, key, KvCache.Storage.defaultDir(), null, 0, log);
    }

    /**
     * {@code kvDir}: where a root that asks for a disk KV cache gets it; {@code sliceDir}: where the slices received
     * are kept for the next session, at most {@code sliceBytes} in all (null: nowhere).
     */
    public Worker(String host, int port, int threads, byte[] key, Path kvDir, Path sliceDir, long sliceBytes, PrintStream log) throws IOException {
        this.kvDir = kvDir;
        this.cache = sliceDir == null ? null : new SliceCache(sliceDir, sliceBytes, log);
        InetAddress address = host == null ? null : InetAddress.getByName(host);
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(address, port), 64); // peers of a mesh connect at once
        this.threads = threads;
        this.key = key;
        this.log = log;
        InetAddress bound = server.getInetAddress();
        if (key == null && !bound.isLoopbackAddress()) {
            log.println("warning: no cluster key: anyone who can reach " + bound.getHostAddress() + ":" + server.getLocalPort() + " can take this worker's one"
                    + " session slot, make it hold its available memory less a margin (and a disk KV cache up to the free space of its KV cache folder),"
                    + (cache != null ? " fill its slice cache up to its maximum," : "")
                    + " compute with weights of their choice, and read or rewrite its sessions' traffic; set --cluster-key-file"
                    + " (or HERD_CLUSTER_KEY) on the root and the workers");
        }
    }

    /** How long a root may stay silent in a session before this worker ends it (at least 3 heartbeats). */
    public Worker rootTimeout(int millis) {
        if (millis < 3 * Cluster.HEARTBEAT_MS) throw new IllegalArgumentException("a root timeout under 3 heartbeats: " + millis);
        rootSilenceMs = millis;
        return this;
    }

    /** Where a worker keeps its slices unless told otherwise: $XDG_CACHE_HOME/herd/slices or ~/.cache/herd/slices. */
    public static Path defaultSliceDir() {
        return SliceCache.defaultDir();
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Serves roots one after another until {@link #close}. */
    public void serve() {
        log.println("worker listening on " + server.getLocalSocketAddress() + " with " + threads + " threads");
        while (!server.isClosed()) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                if (server.isClosed()) return;
                log.println("accept failed: " + e.getMessage());
                continue;
            }
            if (pending.size() >= PENDING) { // make room: a real root completes its handshake in a round trip, idle strangers do not
                Socket oldest = pending.pollFirst();
                if (oldest != null) {
                    log.println("closed " + oldest.getRemoteSocketAddress() + ": the oldest of " + PENDING + " connections in their handshake");
                    close(oldest);
                }
            }
            pending.addLast(s);
            Thread.ofVirtual().name("herd-greet").start(() -> {
                try {
                    greet(s);
                } finally {
                    pending.remove(s);
                }
            });
        }
    }

    /** Reads the first message within the deadline: a root's handshake, or a knock from a mesh peer. */
    private void greet(Socket s) {
        String peer = s.getRemoteSocketAddress().toString().replaceFirst("^/", "");
        Wire w;
        try {
            w = new Wire(s, peer);
        } catch (IOException e) {
            close(s);
            return;
        }
        boolean handedOver = false;
        try {
            w.deadline(HANDSHAKE_MS);
            Message first = w.receive(Handshake.MAX_HELLO);
            if (first.type() == Message.PEER) {
                if (slot.availablePermits() > 0) throw new Wire.ProtocolException("a mesh peer knocked, but no session is under way");
                pending.remove(s);
                peers.add(new Peers.Knock(w, first)); // the session checks it once its plan is in
                handedOver = true;
                return;
            }
            Handshake.Hello hello = Handshake.asWorker(w, key, first);
            pending.remove(s);
            w.deadline(0);
            if (!slot.tryAcquire(BUSY_MS, TimeUnit.MILLISECONDS)) {
                w.send(Message.error("worker busy: it serves another root"));
                log.println("refused root " + peer + ": busy with another root");
                return;
            }
            handedOver = true;
            Thread.ofPlatform().name("herd-session").start(() -> {
                try {
                    run(w, hello);
                } finally {
                    slot.release();
                }
            });
        } catch (Wire.ProtocolException e) {
            log.println("rejected " + peer + ": it broke Herd's protocol (" + e.getMessage() + ")");
        } catch (HerdException | IOException e) {
            log.println("rejected " + peer + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.println("rejected " + peer + ": " + e);
        } finally {
            if (!handedOver) w.close();
        }
    }

    /**
     * This machine's speed on the worker's threads ({@link SpeedProbe}), for a root that balances its split by speed;
     * measured again after {@link #SPEED_MS}, not at every session (a second each, and a root forming the cluster again
     * after a lost worker asks again at once).
     */
    private synchronized long speed() {
        if (speed == 0 || System.nanoTime() - speedAt > SPEED_MS * 1_000_000L) {
            speed = SpeedProbe.bytesPerSecond(threads);
            speedAt = System.nanoTime();
        }
        return speed;
    }

    static final long SPEED_MS = 300_000;

    /** One session, from READY to its end, whatever the end; then frees what it held. */
    private void run(Wire w, Handshake.Hello hello) {
        String peer = w.peer();
        try (w) {
            try {
                Handshake.ready(w, hello, key, Budget.Capacity.here(kvDir), hello.measure() ? speed() : 0);
                log.printf("root %s: node %d of %d%n", peer, hello.node(), hello.nodes());
                session(w, hello);
            } catch (UncheckedIOException | HerdException e) {
                if (!(e instanceof Wire.ProtocolException)) tell(w, e); // e.g. a lost mesh peer: the root names it
                throw e;
            }
        } catch (Wire.ProtocolException e) {
            log.println("rejected " + peer + ": it broke Herd's protocol (" + e.getMessage() + ")");
        } catch (HerdException | IOException | UncheckedIOException e) {
            log.println("session with " + peer + " ended: " + e.getMessage());
        } catch (RuntimeException | OutOfMemoryError e) {
            log.println("session with " + peer + " failed: " + e);
        }
        log.println("listening again on " + server.getLocalSocketAddress());
    }

    private static void close(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already broken: nothing to free
        }
    }

    /** Tries to send the root the reason this session failed; the root may be gone already. */
    private static void tell(Wire w, RuntimeException e) {
        try {
            w.send(Message.error(e.getMessage()));
        } catch (IOException | RuntimeException ignored) {
            // nothing more to do: the root will see the connection close
        }
    }

    private void session(Wire w, Handshake.Hello hello) throws IOException {
        w.timeout(rootSilenceMs);
        PlanMessage plan = PlanMessage.decode(next(w, Message.PLAN, 1 << 20));
        try (Pulse pulse = new Pulse(w)) {
            session(w, plan, hello, pulse);
        }
    }

    private void session(Wire w, PlanMessage plan, Handshake.Hello hello, Pulse pulse) throws IOException {
        if (plan.node() != hello.node() || plan.nodes() != hello.nodes()) throw new Wire.ProtocolException("plan for another node");
        ModelConfig c = plan.config();
        List<GgmlType> types = plan.types();
        // W2's block rounds an unequal split as on the root; each slice's block alignment is checked by bytes() below
        SplitPlan split = SplitPlan.of(c, 1, plan.downBlock(), plan.shares());
        List<SplitPlan.Part> parts = split.parts(c, plan.node(), plan.ropeFreqs());
        if (parts.size() != types.size()) throw new Wire.ProtocolException("plan lists " + types.size() + " tensors, expected " + parts.size());
        if (plan.codec() == SyncCodec.Q80 && c.dim() % 32 != 0) throw new Wire.ProtocolException("q80 sync needs dim divisible by 32");
        ModelConfig local = split.local(c, plan.node());
        long weightBytes = 0;
        for (int i = 0; i < parts.size(); i++) weightBytes += loadedBytes(parts.get(i), types.get(i));
        long kvBytes = KvCache.bytes(local.layers(), local.kvHeads(), local.headDim(), plan.maxSeqLen());
        Budget.check(weightBytes, kvBytes, plan.kvOnDisk(), kvDir);
        Wire[] mesh = null;
        if (plan.mesh()) {
            mesh = plan.nodes() > 2 ? Peers.open(plan, w, peers, key, log) : new Wire[]{w, null};
            log.printf("mesh of %d nodes: linked to every other node%n", plan.nodes());
        }
        long start = System.nanoTime();
        try (Arena arena = Arena.ofShared()) {
            SliceCache.Entry entry = null;
            if (cache != null) {
                long files = 0;
                for (int i = 0; i < parts.size(); i++) files += bytes(parts.get(i), types.get(i)) + SliceCache.HASH;
                entry = cache.entry(plan.sliceKey(hello.fingerprint()), files);
            }
            Map<String, Tensor> tensors = receiveWeights(w, parts, types, entry, arena);
            Weights weights = Weights.from(Weights.Source.of(tensors, "weights from root " + w.peer()), local, 0);
            try (Llama llama = new Llama(local, weights, plan.maxSeqLen(), threads, Model.BATCH,
                    new WorkerSync(w, plan.codec(), local.vocab(), mesh, plan.node(), plan.workers()), plan.kvOnDisk() ? new KvCache.Storage(kvDir) : KvCache.Storage.MEMORY)) {
                w.send(Message.of(Message.LOADED));
                log.printf("loaded %.1f MiB of weights, KV cache %.1f MiB%s; serving (%.1f s after the plan)%n", weightBytes / 1048576.0, kvBytes / 1048576.0,
                        plan.kvOnDisk() ? " on disk" : "", (System.nanoTime() - start) / 1e9);
                serveForwards(w, llama, plan, pulse);
            }
        } finally {
            if (mesh != null) Peers.close(mesh);
            Memory.release(); // the arena is closed by now
        }
    }

    private void serveForwards(Wire w, Llama llama, PlanMessage plan, Pulse pulse) throws IOException {
        int dim = plan.config().dim();
        long rowBytes = plan.embedding().bytes(dim);
        float[] embeddings = new float[Model.BATCH * dim];
        Rows rows = new Rows(Model.BATCH);
        int maxPayload = (int) (12 + Model.BATCH * (8 + rowBytes));
        while (true) {
            pulse.busy(false);
            Message m = w.receive(maxPayload);
            switch (m.type()) {
                case Message.PING -> { }
                case Message.ECHO -> w.send(Message.of(Message.ECHO)); // the root asks whether this worker answers
                case Message.BYE -> {
                    log.println("root " + w.peer() + " ended the session");
                    return;
                }
                case Message.FORWARD -> {
                    pulse.busy(true);
                    Message.Reader r = m.reader();
                    int n = r.i32(), mode = r.i32(), each = r.i32();
                    if (n < 1 || n > Model.BATCH || mode < 0 || mode > 2 || each < 0 || each > 1 || r.remaining() != n * (8 + rowBytes)) {
                        throw new Wire.ProtocolException("bad forward request: " + n + " tokens, " + r.remaining() + " bytes");
                    }
                    if (each == 1) rows.each(n);
                    else rows.run(0, 0, n);
                    for (int b = 0; b < n; b++) rows.set(b, r.i32(), r.i32());
                    MemorySegment embedded = MemorySegment.ofArray(m.payload()).asSlice(12 + 8L * n, n * rowBytes);
                    for (int b = 0; b < n; b++) Codecs.of(plan.embedding()).decode(embedded, b * rowBytes, embeddings, b * dim, dim);
                    try {
                        llama.forward(embeddings, rows, Sync.Logits.values()[mode]);
                    } catch (HerdException e) { // rows outside the KV cache, or not a run
                        throw new Wire.ProtocolException("bad forward request: " + e.getMessage());
                    }
                }
                default -> throw new Wire.ProtocolException("unexpected message " + Message.name(m.type()));
            }
        }
    }

    /**
     * The node's slices, as the plan lists them: those its slice cache holds intact, then (after telling the root
     * which, in HAVE) those the root streams, stored as they arrive. Those whose kernel layout is larger than the
     * file's (the K-quants, {@link Kernels#largerLayout}) are read into arenas of their own and repacked into
     * {@code arena} as soon as all are in ({@link #settle}), so their file bytes are freed then rather than held
     * beside the copy for the whole session.
     */
    private Map<String, Tensor> receiveWeights(Wire w, List<SplitPlan.Part> parts, List<GgmlType> types, SliceCache.Entry cache, Arena arena) throws IOException {
        MemorySegment[] data = new MemorySegment[parts.size()];
        Arena[] own = new Arena[parts.size()];
        long[] filled = new long[parts.size()];
        SliceCache.Entry.Writer writer = null;
        try {
            for (int i = 0; i < parts.size(); i++) {
                if (Kernels.largerLayout(types.get(i)) != null) own[i] = Arena.ofShared();
                data[i] = (own[i] != null ? own[i] : arena).allocate(bytes(parts.get(i), types.get(i)), 64);
            }
            boolean[] cached = new boolean[parts.size()];
            w.send(have(cache, data, cached));
            for (int i = 0; i < parts.size(); i++) if (cached[i]) filled[i] = data[i].byteSize();
            while (true) {
                Message m = w.receiveTransient(Cluster.CHUNK + 16);
                if (m.type() == Message.PING) continue;
                if (m.type() == Message.LOADED) break;
                if (m.type() != Message.WEIGHTS) throw new Wire.ProtocolException("expected WEIGHTS, got " + Message.name(m.type()));
                Message.Reader r = m.reader();
                int part = r.i32();
                long offset = r.i64();
                int n = r.remaining();
                if (part >= 0 && part < parts.size() && offset == 0 && cached[part]) { // the root's bytes differ from the cached ones
                    cached[part] = false;
                    filled[part] = 0;
                }
                if (part < 0 || part >= parts.size() || offset != filled[part] || offset + n > data[part].byteSize()) {
                    throw new Wire.ProtocolException("weights chunk outside the plan: tensor " + part + " at " + offset + " (+" + n + ")");
                }
                MemorySegment.copy(MemorySegment.ofArray(m.payload()), m.length() - n, data[part], offset, n);
                filled[part] += n;
                if (writer != null && writer.part() != part) { // one file at a time: a root that interleaves slices gets them unstored
                    writer.close();
                    writer = null;
                }
                if (offset == 0 && cache != null) writer = cache.writer(part);
                if (writer != null && !writer.write(m.payload(), m.length() - n, n)) writer = null;
                if (writer != null && filled[part] == data[part].byteSize()) {
                    writer.commit();
                    writer = null;
                }
            }
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (int i = 0; i < parts.size(); i++) {
                SplitPlan.Part p = parts.get(i);
                if (filled[i] != data[i].byteSize()) throw new Wire.ProtocolException("tensor " + p.name() + " incomplete: " + filled[i] + " of " + data[i].byteSize() + " bytes");
                Tensor t = new Tensor(p.name(), types.get(i), p.localRows(), p.localCols(), data[i]);
                tensors.put(p.name(), own[i] != null ? settle(t, p.experts(), own[i], arena) : t);
            }
            return tensors;
        } catch (Throwable e) {
            for (Arena a : own) if (a != null && a.scope().isAlive()) a.close();
            throw e;
        } finally {
            if (writer != null) writer.close();
        }
    }

    /**
     * Reads the slices {@code cache} holds intact into {@code data} (marking them {@code cached}) and lists them for
     * the root: {@code i32 count, count x (i32 part, bytes SHA-256)}.
     */
    private Message have(SliceCache.Entry cache, MemorySegment[] data, boolean[] cached) {
        long start = System.nanoTime();
        byte[][] hashes = new byte[data.length][];
        int count = 0;
        long bytes = 0;
        for (int i = 0; cache != null && i < data.length; i++) {
            hashes[i] = cache.load(i, data[i]);
            if (hashes[i] == null) continue;
            cached[i] = true;
            bytes += data[i].byteSize();
            count++;
        }
        if (cache != null) log.printf("slice cache: %d of %d slices (%.1f MiB) read and verified in %.1f s%n", count, data.length,
                bytes / 1048576.0, (System.nanoTime() - start) / 1e9);
        Message.Builder b = new Message.Builder(Message.HAVE).i32(count);
        for (int i = 0; i < data.length; i++) if (hashes[i] != null) b.i32(i).bytes(hashes[i]);
        return b.build();
    }

    /**
     * {@code received} (in {@code own}, which this closes; {@code stacked} experts, or 1) in its kernel's layout in
     * {@code session}, or copied there as it is when its rows (each expert's) do not fill the kernel's groups.
     */
    static Tensor settle(Tensor received, int stacked, Arena own, Arena session) {
        try {
            Tensor t = Kernels.prepare(received, stacked, session);
            if (t.data() != received.data()) return t;
            MemorySegment copy = session.allocate(received.data().byteSize(), 64).copyFrom(received.data());
            return new Tensor(received.name(), received.type(), received.rows(), received.cols(), copy);
        } finally {
            own.close();
        }
    }

    /** Bytes a slice takes once loaded: the larger of the file's and its kernel layout's. */
    static long loadedBytes(SplitPlan.Part p, GgmlType type) {
        GgmlType layout = Kernels.largerLayout(type);
        long received = bytes(p, type);
        return layout == null ? received : Math.max(received, layout.bytes((long) p.localRows() * p.localCols()));
    }

    static long bytes(SplitPlan.Part p, GgmlType type) {
        if (p.localCols() % type.blockSize != 0) throw new Wire.ProtocolException(p.name() + " slice cuts " + type + " blocks");
        return p.bytes(type);
    }

    /** The next message that is not a heartbeat; {@code type} -1 accepts any. */
    static Message next(Wire w, int type, int maxPayload) throws IOException {
        while (true) {
            Message m = w.receive(maxPayload);
            if (m.type() == Message.PING) continue;
            if (m.type() == Message.ERROR) throw new HerdException(w.peer() + ": " + m.reader().string());
            if (m.type() == Message.BYE) throw new HerdException("the root ended the session");
            if (type >= 0 && m.type() != type) throw new Wire.ProtocolException("expected " + Message.name(type) + ", got " + Message.name(m.type()));
            return m;
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
