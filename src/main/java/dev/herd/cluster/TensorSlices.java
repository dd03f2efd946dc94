package dev.herd.cluster;

import dev.herd.model.ModelTensor.Cut;
import dev.herd.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Cuts a node's {@link SplitPlan.Part} out of a full tensor: a view for rows, a copy (or a stream) for columns. */
final class TensorSlices {
    private TensorSlices() {}

    /**
     * The part as a tensor: rows and whole tensors are views over the full tensor's memory; columns, and rows of
     * stacked experts (each expert's slice), are copied.
     */
    static Tensor cut(Tensor full, SplitPlan.Part p, Arena arena) {
        return switch (p.cut()) {
            case WHOLE, ROOT -> full; // no part is ROOT: the embedding stays on the root
            case ROWS -> {
                if (p.experts() == 1) yield full.rows(p.from(), p.to());
                MemorySegment copy = arena.allocate(p.bytes(full.type()), 64);
                long at = 0;
                for (int e = 0; e < p.experts(); e++) {
                    MemorySegment piece = expertRows(full, p, e);
                    MemorySegment.copy(piece, 0, copy, at, piece.byteSize());
                    at += piece.byteSize();
                }
                yield new Tensor(full.name(), full.type(), p.localRows(), full.cols(), copy);
            }
            case COLUMNS -> {
                MemorySegment copy = arena.allocate(p.bytes(full.type()), 64);
                long at = 0;
                for (int r = 0; r < full.rows(); r++) {
                    MemorySegment piece = columns(full, p, r);
                    MemorySegment.copy(piece, 0, copy, at, piece.byteSize());
                    at += piece.byteSize();
                }
                yield new Tensor(full.name(), full.type(), full.rows(), p.localCols(), copy);
            }
        };
    }

    /** Receives the bytes of a part, in order, in pieces of at most {@code max} bytes. */
    interface Sink {
        void accept(MemorySegment piece) throws IOException;
    }

    /** Streams the part's bytes (row-major, as {@link #cut} lays them out) without copying the tensor. */
    static void stream(Tensor full, SplitPlan.Part p, long max, Sink sink) throws IOException {
        if (p.cut() == Cut.COLUMNS) {
            for (int r = 0; r < full.rows(); r++) sink.accept(columns(full, p, r)); // one row's slice: small
            return;
        }
        if (p.cut() == Cut.ROWS && p.experts() > 1) {
            for (int e = 0; e < p.experts(); e++) stream(expertRows(full, p, e), max, sink);
            return;
        }
        stream(cut(full, p, null).data(), max, sink);
    }

    private static void stream(MemorySegment all, long max, Sink sink) throws IOException {
        for (long at = 0; at < all.byteSize(); at += max) sink.accept(all.asSlice(at, Math.min(max, all.byteSize() - at)));
    }

    /** Expert e's rows [from, to) of a stacked tensor. */
    private static MemorySegment expertRows(Tensor full, SplitPlan.Part p, int e) {
        long first = (long) e * p.rows() + p.from();
        return full.data().asSlice(first * full.rowBytes(), (long) (p.to() - p.from()) * full.rowBytes());
    }

    private static MemorySegment columns(Tensor full, SplitPlan.Part p, int row) {
        long from = full.type().bytes(p.from()), to = full.type().bytes(p.to());
        return full.data().asSlice(row * full.rowBytes() + from, to - from);
    }
}
