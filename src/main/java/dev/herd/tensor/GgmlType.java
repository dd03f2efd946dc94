package dev.herd.tensor;

/** Tensor element types as GGUF numbers them; Herd computes with the supported ones. */
public enum GgmlType {
    F32(0, 1, 4, true),
    F16(1, 1, 2, true),
    Q4_0(2, 32, 18, true),
    Q4_1(3, 32, 20, false),
    Q5_0(6, 32, 22, false),
    Q5_1(7, 32, 24, false),
    Q8_0(8, 32, 34, true),
    Q8_1(9, 32, 36, false),
    Q2_K(10, 256, 84, false),
    Q3_K(11, 256, 110, false),
    Q4_K(12, 256, 144, false),
    Q5_K(13, 256, 176, false),
    Q6_K(14, 256, 210, false),
    Q8_K(15, 256, 292, false),
    IQ2_XXS(16, 256, 66, false),
    IQ2_XS(17, 256, 74, false),
    IQ3_XXS(18, 256, 98, false),
    IQ1_S(19, 256, 50, false),
    IQ4_NL(20, 32, 18, false),
    IQ3_S(21, 256, 110, false),
    IQ2_S(22, 256, 82, false),
    IQ4_XS(23, 256, 136, false),
    I8(24, 1, 1, false),
    I16(25, 1, 2, false),
    I32(26, 1, 4, false),
    I64(27, 1, 8, false),
    F64(28, 1, 8, false),
    IQ1_M(29, 256, 56, false),
    BF16(30, 1, 2, true),
    TQ1_0(34, 256, 54, false),
    TQ2_0(35, 256, 66, false),
    /** Herd's in-memory layout of Q4_0 with rows interleaved in groups that fill one vector register (see the kernel); never in files. */
    Q4_0_INTERLEAVED(-1, 32, 18, true),
    /** The same for Q8_0. */
    Q8_0_INTERLEAVED(-1, 32, 34, true);

    public final int id;
    /** Elements per block. */
    public final int blockSize;
    /** Bytes per block. */
    public final int blockBytes;
    /** Whether Herd's kernels compute with this type. */
    public final boolean supported;

    GgmlType(int id, int blockSize, int blockBytes, boolean supported) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
        this.supported = supported;
    }

    /** Bytes taken by {@code elements} values; elements must be a multiple of the block size. */
    public long bytes(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(name() + " needs a multiple of " + blockSize + " elements, got " + elements);
        }
        return elements / blockSize * blockBytes;
    }

    public boolean quantized() {
        return blockSize > 1;
    }

    private static final GgmlType[] BY_ID = new GgmlType[64];
    static {
        for (GgmlType t : values()) if (t.id >= 0) BY_ID[t.id] = t;
    }

    /** The type with this GGUF id, or null if the id is unknown. */
    public static GgmlType byId(int id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[id] : null;
    }
}
