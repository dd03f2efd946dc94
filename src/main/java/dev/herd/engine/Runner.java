package dev.herd.engine;

import dev.herd.format.GgufFile;
import dev.herd.model.ModelConfig;
import dev.herd.model.Weights;

/** Builds the forward pass of an opened model: on this machine alone, or split across a cluster. */
@FunctionalInterface
public interface Runner {
    /** A forward pass whose KV cache holds {@code slots} sequences of {@code maxSeqLen} positions. */
    Llama build(GgufFile file, ModelConfig config, int maxSeqLen, int slots, int threads);

    /** One sequence. */
    default Llama build(GgufFile file, ModelConfig config, int maxSeqLen, int threads) {
        return build(file, config, maxSeqLen, 1, threads);
    }

    /** The most positions of context every node can hold now (to bound the default context). */
    default int positionsThatFit(GgufFile file, ModelConfig config) {
        return Integer.MAX_VALUE;
    }

    Runner LOCAL = local(KvCache.Storage.MEMORY);

    /** This machine alone, with the KV cache in memory or on disk. */
    static Runner local(KvCache.Storage kv) {
        return new Runner() {
            @Override
            public Llama build(GgufFile file, ModelConfig config, int maxSeqLen, int slots, int threads) {
                return new Llama(config, Weights.from(file.source(), config), maxSeqLen, slots, threads, Model.BATCH, Sync.NONE, kv);
            }

            @Override
            public int positionsThatFit(GgufFile file, ModelConfig config) {
                return KvCache.positionsThatFit(config.layers(), config.kvHeads(), config.headDim(), kv);
            }
        };
    }
}
