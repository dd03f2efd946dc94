package dev.herd.cli;

import dev.herd.HerdException;
import dev.herd.cluster.ClusterRunner;
import dev.herd.cluster.Handshake;
import dev.herd.cluster.Stats;
import dev.herd.cluster.SyncCodec;
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

    @Option(names = "--nthreads", defaultValue = "1", paramLabel = "N", description = "Compute threads (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--max-seq-len", defaultValue = "0", paramLabel = "N", description = "KV cache length; 0 = the model's context length (inference: --steps). Refused if it does not fit in memory.")
    int maxSeqLen;

    @Option(names = "--buffer-float-type", defaultValue = "q80", paramLabel = "TYPE",
            description = "Type of the activations nodes exchange: q80 or f32 (default: ${DEFAULT-VALUE}).")
    String bufferFloatType;

    @Option(names = "--workers", arity = "1..*", paramLabel = "HOST:PORT", description = "Workers to split the model across (the root is node 0).")
    List<String> workers = List.of();

    @Option(names = "--cluster-key", paramLabel = "KEY", description = "Shared secret the workers require (default: the HERD_CLUSTER_KEY variable; visible in ps, prefer --cluster-key-file).")
    String clusterKey;

    @Option(names = "--cluster-key-file", paramLabel = "FILE", description = "Read the cluster key from the first line of this file.")
    Path clusterKeyFile;

    @Option(names = "--kv-cache-storage", defaultValue = "memory", paramLabel = "WHERE",
            description = "memory, or disk: each node keeps its KV cache in a memory-mapped temporary file, deleted at the end.")
    String kvCacheStorage;

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

    Run open() {
        return open(Integer.MAX_VALUE);
    }

    /** Opens the model with a KV cache of at most {@code positions} (what the run needs), within --max-seq-len. */
    Run open(int positions) {
        KvCache.Storage kv = switch (kvCacheStorage) {
            case "memory" -> KvCache.Storage.MEMORY;
            case "disk" -> KvCache.Storage.DISK;
            default -> throw new HerdException("--kv-cache-storage must be memory or disk, got '" + kvCacheStorage + "'");
        };
        Model m;
        ClusterRunner cluster = workers.isEmpty() ? null
                : new ClusterRunner(workers, Handshake.key(clusterKey, clusterKeyFile), SyncCodec.of(bufferFloatType), kv, System.err);
        try {
            m = openModel(cluster == null ? Runner.local(kv) : cluster, positions);
            return new Run(m, cluster);
        } catch (RuntimeException e) {
            if (cluster != null) cluster.close();
            throw e;
        }
    }

    private Model openModel(Runner runner, int positions) {
        if (threads < 1 || threads > 1024) throw new HerdException("--nthreads must be between 1 and 1024, got " + threads);
        if (maxSeqLen < 0) throw new HerdException("--max-seq-len must be >= 0, got " + maxSeqLen);
        if (!bufferFloatType.equals("q80") && !bufferFloatType.equals("f32")) {
            throw new HerdException("--buffer-float-type must be q80 or f32, got '" + bufferFloatType + "'");
        }
        return Model.open(model, tokenizer, maxSeqLen > 0 ? Math.min(maxSeqLen, positions) : positions, threads, runner);
    }
}
