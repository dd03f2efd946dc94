package dev.herd.cli;

import dev.herd.HerdException;
import dev.herd.cluster.Cluster;
import dev.herd.cluster.ClusterRunner;
import dev.herd.cluster.Handshake;
import dev.herd.cluster.Stats;
import dev.herd.cluster.SyncCodec;
import dev.herd.engine.ContextLength;
import dev.herd.engine.KvCache;
import dev.herd.engine.Model;
import dev.herd.engine.Runner;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;

/** The flags that choose and size a model run, named as distributed-llama names them. */
final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "FILE", description = "Model file: GGUF, or distributed-llama .m (with --tokenizer).")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "Tokenizer (tokenizer.model, tokenizer.json or .t); optional when the GGUF carries one.")
    Path tokenizer;

    @Option(names = "--nthreads", paramLabel = "N", description = "Compute threads (default: the available processors, ${DEFAULT-VALUE} here).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--max-seq-len", defaultValue = "0", paramLabel = "N", description = "KV cache length (context); 0 = at most "
            + ContextLength.DEFAULT + " and what fits in every node's memory (inference: --steps). A length that does not fit is refused before the load.")
    int maxSeqLen;

    @Option(names = "--weights-float-type", paramLabel = "TYPE", description = "Optional check (distributed-llama's flag): q40, q80, f16, bf16, f32, q4_k_m or q6_k, the type the model file's weights must be in.")
    String weightsFloatType;

    @Option(names = "--buffer-float-type", defaultValue = "q80", paramLabel = "TYPE",
            description = "Type of the activations nodes exchange: q80 or f32 (default: ${DEFAULT-VALUE}).")
    String bufferFloatType;

    @Option(names = "--workers", arity = "1..*", split = ",", paramLabel = "HOST:PORT[*W]", description = "Workers to split the model across (the root is node 0), separated by spaces or commas; *W gives a worker weight W (default 1): a share of the model in proportion.")
    List<String> workers = List.of();

    @Option(names = "--root-weight", defaultValue = "1", paramLabel = "W", description = "The root's weight against the workers' *W (default: ${DEFAULT-VALUE}).")
    int rootWeight;

    @Option(names = "--balance", defaultValue = "weights", paramLabel = "HOW", description = "weights: shares as *W and --root-weight give them; auto: in proportion to the speed each node measures as it joins, about a second each (default: ${DEFAULT-VALUE}).")
    String balance;

    @Option(names = "--connect-timeout-ms", defaultValue = "10000", paramLabel = "MS", description = "How long to keep trying to reach each worker (default: ${DEFAULT-VALUE}).")
    int connectMillis;

    @Option(names = "--worker-timeout-ms", defaultValue = "10000", paramLabel = "MS", description = "A worker silent this long while the root waits on it is lost; busy workers ping every 2 s (default: ${DEFAULT-VALUE}).")
    int workerMillis;

    @Option(names = "--cluster-key", paramLabel = "KEY", description = "Shared secret the workers require (default: the HERD_CLUSTER_KEY variable; visible in ps, prefer --cluster-key-file).")
    String clusterKey;

    @Option(names = "--cluster-key-file", paramLabel = "FILE", description = "Read the cluster key from the first line of this file.")
    Path clusterKeyFile;

    @Option(names = "--kv-cache-storage", defaultValue = "memory", paramLabel = "WHERE",
            description = "memory, or disk: each node keeps its KV cache in a memory-mapped file under its --kv-cache-dir, deleted as soon as it is mapped (default: ${DEFAULT-VALUE}).")
    String kvCacheStorage;

    @Option(names = "--kv-cache-dir", paramLabel = "DIR", description = "Folder of the root's disk KV cache (default: $XDG_CACHE_HOME/herd/kv or ~/.cache/herd/kv; workers use their own).")
    Path kvCacheDir;

    /** An opened model and, when split, its cluster; closing closes both. */
    record Run(Model model, ClusterRunner cluster) implements AutoCloseable {
        /** Time in syncs and bytes moved so far, or null on one node. */
        Stats stats() {
            return cluster == null ? null : cluster.stats();
        }

        @Override
        public void close() {
            try {
                model.close();
            } finally {
                if (cluster != null) cluster.close();
            }
        }
    }

    /** Opens the model with the context --max-seq-len asks for, else the default ({@link ContextLength}). */
    Run open() {
        return open(Integer.MAX_VALUE);
    }

    /** Opens the model with a KV cache of at most {@code positions} (what the run needs), within --max-seq-len. */
    Run open(int positions) {
        return open(positions, 1);
    }

    /** Opens the model with a KV cache for {@code parallel} sequences (0: as many as fit, up to 4), see {@link ContextLength}. */
    Run open(int positions, int parallel) {
        KvCache.Storage kv = switch (kvCacheStorage) {
            case "memory" -> KvCache.Storage.MEMORY;
            case "disk" -> new KvCache.Storage(kvCacheDir != null ? kvCacheDir : KvCache.Storage.defaultDir());
            default -> throw new HerdException("--kv-cache-storage must be memory or disk, got '" + kvCacheStorage + "'");
        };
        if (connectMillis < 1 || workerMillis < 3 * 2_000) {
            throw new HerdException("--connect-timeout-ms must be at least 1 and --worker-timeout-ms at least 6000 (3 heartbeats)");
        }
        if (threads < 1 || threads > 1024) throw new HerdException("--nthreads must be between 1 and 1024, got " + threads);
        if (!balance.equals("weights") && !balance.equals("auto")) throw new HerdException("--balance must be weights or auto, got '" + balance + "'");
        if (weightsFloatType != null) WeightsCheck.check(model, weightsFloatType);
        Model m;
        ClusterRunner cluster = workers.isEmpty() ? null
                : new ClusterRunner(workers, Handshake.key(clusterKey, clusterKeyFile), SyncCodec.of(bufferFloatType), kv, System.err)
                        .rootWeight(rootWeight).timeouts(new Cluster.Timeouts(connectMillis, workerMillis)).progress(new ProgressBar(System.err, "streaming weights to workers"));
        if (cluster != null && balance.equals("auto")) cluster.balance(threads);
        try {
            m = openModel(cluster == null ? Runner.local(kv) : cluster, positions, parallel);
            return new Run(m, cluster);
        } catch (RuntimeException e) {
            if (cluster != null) cluster.close();
            throw e;
        }
    }

    private Model openModel(Runner runner, int positions, int parallel) {
        if (maxSeqLen < 0) throw new HerdException("--max-seq-len must be >= 0, got " + maxSeqLen);
        if (!bufferFloatType.equals("q80") && !bufferFloatType.equals("f32")) {
            throw new HerdException("--buffer-float-type must be q80 or f32, got '" + bufferFloatType + "'");
        }
        int requested = maxSeqLen > 0 ? Math.min(maxSeqLen, positions) : positions == Integer.MAX_VALUE ? 0 : positions;
        return Model.open(model, tokenizer, requested, parallel, threads, runner, System.err);
    }
}
