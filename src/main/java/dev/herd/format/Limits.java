package dev.herd.format;

/**
 * Bounds on what a model file may declare, checked before anything is allocated from it. They sit far above any
 * real model (Llama 3.1 405B: 126 layers, 1,138 tensors, dim 16,384, vocab 128,256) and far below what would
 * exhaust a machine.
 */
public final class Limits {
    /** Layers (block_count, n_layers, num_hidden_layers). */
    public static final int MAX_LAYERS = 1024;
    /** Tensors in one GGUF file. */
    public static final int MAX_TENSORS = 65_536;
    /** Metadata entries in one GGUF file. */
    public static final int MAX_METADATA = 65_536;
    /** Bytes of one string in a file (a key, a tensor name, a chat template, a token). */
    public static final int MAX_STRING_BYTES = 16 << 20;
    /** Elements of one metadata array (a vocabulary, its merges). */
    public static final int MAX_ARRAY = 16 << 20;
    /** Model width, FFN width, head size and head counts. */
    public static final int MAX_WIDTH = 1 << 20;
    /** Vocabulary size. */
    public static final int MAX_VOCAB = 16 << 20;
    /** Bytes of a tokenizer file read whole (.t, tokenizer.model, tokenizer.json). */
    public static final long MAX_TOKENIZER_BYTES = 1L << 30;

    private Limits() {}

    /** Whether heads x head size (the attention width) stays within {@link #MAX_WIDTH}, so no int width overflows. */
    public static boolean headsFit(int heads, int headDim) {
        return (long) heads * headDim <= MAX_WIDTH;
    }
}
