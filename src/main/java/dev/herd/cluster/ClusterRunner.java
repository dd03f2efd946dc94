package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.engine.KvCache;
import dev.herd.engine.Llama;
import dev.herd.engine.Runner;
import dev.herd.format.GgufFile;
import dev.herd.model.ModelConfig;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/** Runs a model split across the root (this process, node 0) and the given workers. Close it after the model. */
public final class ClusterRunner implements Runner, AutoCloseable {
    private final List<String> workers;
    private final List<Integer> shares; // the root's weight, then each worker's
    private final byte[] key;
    private final SyncCodec codec;
    private final KvCache.Storage kv;
    private final PrintStream log;
    private Boolean mesh; // null: the default for the node count
    private int balanceThreads; // > 0: shares from the speeds the nodes measure, the root's on this many threads
    private Cluster.Timeouts timeouts = Cluster.Timeouts.DEFAULT;
    private Cluster.Progress progress = (done, total) -> {};
    private Cluster cluster;

    public ClusterRunner(List<String> workers, byte[] key, SyncCodec codec, PrintStream log) {
        this(workers, key, codec, KvCache.Storage.MEMORY, log);
    }

    /**
     * {@code workers}: addresses HOST:PORT, each optionally with a weight, HOST:PORT*W (default 1; the root's is
     * {@link #rootWeight}): a node gets a share of the model in proportion to its weight ({@link SplitPlan}).
     * {@code kv}: where every node keeps its KV cache.
     */
    public ClusterRunner(List<String> workers, byte[] key, SyncCodec codec, KvCache.Storage kv, PrintStream log) {
        this.workers = workers.stream().map(w -> w.contains("*") ? w.substring(0, w.lastIndexOf('*')) : w).toList();
        List<Integer> shares = new ArrayList<>();
        shares.add(1);
        for (String w : workers) shares.add(w.contains("*") ? weight(w.substring(w.lastIndexOf('*') + 1), "worker " + w) : 1);
        this.shares = shares;
        this.key = key;
        this.codec = codec;
        this.kv = kv;
        this.log = log;
    }

    /** The root's weight in the split (default 1), against the workers' HOST:PORT*W. */
    public ClusterRunner rootWeight(int weight) {
        shares.set(0, weight(String.valueOf(weight), "--root-weight"));
        return this;
    }

    private static int weight(String text, String what) {
        try {
            int w = Integer.parseInt(text);
            if (w >= 1 && w <= SplitPlan.MAX_SHARE) return w;
        } catch (NumberFormatException ignored) {
            // explained below
        }
        throw new HerdException(what + ": a weight must be a whole number from 1 to " + SplitPlan.MAX_SHARE + ", not '" + text + "'");
    }

    /**
     * Shares in proportion to the speeds the nodes measure at connection ({@code --balance auto}, {@link Balance}),
     * the root's on {@code rootThreads} threads, instead of the weights given.
     */
    public ClusterRunner balance(int rootThreads) {
        if (shares.stream().anyMatch(w -> w != 1)) throw new HerdException("--balance auto measures the weights: drop HOST:PORT*W and --root-weight");
        this.balanceThreads = rootThreads;
        return this;
    }

    /** Star (false) or mesh (true) all-reduce, instead of the default for the node count; for tests. */
    ClusterRunner mesh(boolean mesh) {
        this.mesh = mesh;
        return this;
    }

    /** Where the weight streaming reports its progress (default: nowhere). */
    public ClusterRunner progress(Cluster.Progress progress) {
        this.progress = progress;
        return this;
    }

    public ClusterRunner timeouts(Cluster.Timeouts timeouts) {
        this.timeouts = timeouts;
        return this;
    }

    /** Connects to the workers (if not yet) to learn what they can hold. */
    @Override
    public int positionsThatFit(GgufFile file, ModelConfig config) {
        return connect(file, config).positionsThatFit(file, config, kv);
    }

    private Cluster connect(GgufFile file, ModelConfig config) {
        if (cluster == null) {
            cluster = balanceThreads > 0 ? Cluster.connectBalanced(workers, balanceThreads, file, config, key, timeouts, log)
                    : Cluster.connect(workers, shares, file, key, timeouts, log);
        }
        return cluster;
    }

    @Override
    public Llama build(GgufFile file, ModelConfig config, int maxSeqLen, int slots, int threads) {
        Cluster cluster = connect(file, config);
        long start = System.nanoTime();
        Llama llama = mesh == null ? cluster.load(file, config, maxSeqLen, slots, threads, codec, kv, progress)
                : cluster.load(file, config, maxSeqLen, slots, threads, codec, kv, progress, mesh);
        Stats s = cluster.stats();
        log.printf("loaded %d workers in %.1f s: %.1f MiB of weights sent, %.1f MiB found in their slice caches (%.1f s hashing)%n",
                workers.size(), (System.nanoTime() - start) / 1e9, s.streamed() / 1048576.0, s.reused() / 1048576.0, s.hashNanos() / 1e9);
        return llama;
    }

    /** {@link Cluster#unanswered}: the workers that do not answer; none before the cluster is formed. */
    public List<String> unanswered(int millis) {
        return cluster == null ? List.of() : cluster.unanswered(millis);
    }

    /** Null until the model is built. */
    public Stats stats() {
        return cluster == null ? null : cluster.stats();
    }

    @Override
    public void close() {
        if (cluster != null) cluster.close();
    }
}
