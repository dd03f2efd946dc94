package dev.herd.tensor;

import java.lang.foreign.MemorySegment;

/**
 * A matrix (or vector, rows = 1) of {@code rows x cols} elements of one type, row-major, quantization blocks along a
 * row, over memory that is usually a slice of a memory-mapped model file.
 */
public record Tensor(String name, GgmlType type, int rows, int cols, MemorySegment data) {

    public Tensor {
        if (cols % type.blockSize != 0) {
            throw new IllegalArgumentException(name + ": " + cols + " columns are not a multiple of the " + type + " block size " + type.blockSize);
        }
        long need = (long) rows * type.bytes(cols);
        if (data.byteSize() != need) {
            throw new IllegalArgumentException(name + ": expected " + need + " bytes, got " + data.byteSize());
        }
    }

    public long rowBytes() {
        return type.bytes(cols);
    }

    public long size() {
        return (long) rows * cols;
    }

    /** Rows [from, to) as a tensor over the same memory. */
    public Tensor rows(int from, int to) {
        return new Tensor(name, type, to - from, cols, data.asSlice(from * rowBytes(), (to - from) * rowBytes()));
    }
}
