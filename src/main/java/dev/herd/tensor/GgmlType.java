package dev.herd.tensor;

/** Tensor element types as GGUF numbers them, with their block layouts; Herd reads those with a codec (see dev.herd.codec.Codecs). */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q8_1(9, 32, 36),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    IQ2_XXS(16, 256, 66),
    IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98),
    IQ1_S(19, 256, 50),
    IQ4_NL(20, 32, 18),
    IQ3_S(21, 256, 110),
    IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    IQ1_M(29, 256, 56),
    BF16(30, 1, 2),
    TQ1_0(34, 256, 54),
    TQ2_0(35, 256, 66),
    MXFP4(39, 32, 17),
    /** Herd's in-memory layout of Q4_0 with rows interleaved in groups that fill one vector register (see the kernel); never in files. */
    Q4_0_INTERLEAVED(-1, 32, 18),
    /** The same for Q8_0. */
    Q8_0_INTERLEAVED(-1, 32, 34),
    /** The same for Q6_K, one byte per value (q - 32) and float super-block scales: 276 bytes per 256 values. */
    Q6_K_INTERLEAVED(-1, 256, 276),
    /** The same for Q4_K: Q4_0's nibble pieces, and per 32 values each row's float step and minimum (24 bytes per 32). */
    Q4_K_INTERLEAVED(-1, 32, 24),
    /** Q4_1 in Q4_K's layout; apart because, as in ggml, its activations are rounded per 32 values, not per 256. */
    Q4_1_INTERLEAVED(-1, 32, 24),
    /** The same for Q5_K and IQ4_XS: one byte per value (its level), and per 32 values each row's float step and minimum (40 bytes). */
    Q5_K_INTERLEAVED(-1, 32, 40),
    /** Q5_1 in Q5_K's layout (activations rounded per 32 values, as for Q4_1). */
    Q5_1_INTERLEAVED(-1, 32, 40),
    /**
     * The same for Q3_K and Q2_K: Q4_0's nibble pieces (levels 0..15), per 32 values each row's two int8 scales and two
     * int8 minima (one per 16-value sub-block), per 256 each row's float d and dmin: 168 bytes per 256 values.
     */
    Q3_K_INTERLEAVED(-1, 256, 168);

    public final int id;
    /** Elements per block. */
    public final int blockSize;
    /** Bytes per block. */
    public final int blockBytes;

    GgmlType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
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
