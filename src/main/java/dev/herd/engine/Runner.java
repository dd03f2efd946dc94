package dev.herd.engine;

import dev.herd.format.GgufFile;
import dev.herd.model.LlamaConfig;
import dev.herd.model.Weights;

/** Builds the forward pass of an opened model: on this machine alone, or split across a cluster. */
@FunctionalInterface
public interface Runner {
    Llama build(GgufFile file, LlamaConfig config, int maxSeqLen, int threads);

    Runner LOCAL = (file, config, maxSeqLen, threads) -> new Llama(config, Weights.from(file, config), maxSeqLen, threads, Model.BATCH);
}
