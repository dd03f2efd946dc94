package dev.herd.engine;

import dev.herd.format.GgufFile;
import dev.herd.model.LlamaConfig;
import dev.herd.model.Weights;

/** Builds the forward pass of an opened model: on this machine alone, or split across a cluster. */
@FunctionalInterface
public interface Runner {
    Llama build(GgufFile file, LlamaConfig config, int maxSeqLen, int threads);

    Runner LOCAL = local(KvCache.Storage.MEMORY);

    /** This machine alone, with the KV cache in memory or on disk. */
    static Runner local(KvCache.Storage kv) {
        return (file, config, maxSeqLen, threads) ->
                new Llama(config, Weights.from(file, config), maxSeqLen, threads, Model.BATCH, Sync.NONE, kv);
    }
}
