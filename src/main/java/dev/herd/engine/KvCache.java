package dev.herd.engine;

import dev.herd.HerdException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Keys and values of every past position, F32, per layer {@code maxSeqLen x kvDim} floats, off the Java heap: in
 * memory, or in a memory-mapped temporary file ({@code --kv-cache-storage disk}) that the OS pages in and out, for
 * long contexts on machines short of RAM. Each KV head's positions are contiguous ([kvHead][pos][headDim]) so
 * attention for one head streams through one block, and a node that owns whole KV heads owns whole blocks.
 */
public final class KvCache implements AutoCloseable {
    public enum Storage { MEMORY, DISK }

    /** Memory (or disk) left to everything else when sizing the cache: 256 MiB. */
    static final long MARGIN = 256L << 20;

    public final int maxSeqLen;
    final int headDim;
    final MemorySegment[] keys;
    final MemorySegment[] values;
    private final Arena arena = Arena.ofShared();
    private final Path file;

    public KvCache(int layers, int kvHeads, int headDim, int maxSeqLen) {
        this(layers, kvHeads, headDim, maxSeqLen, Storage.MEMORY);
    }

    public KvCache(int layers, int kvHeads, int headDim, int maxSeqLen, Storage storage) {
        this.maxSeqLen = maxSeqLen;
        this.headDim = headDim;
        long perLayer = 4L * maxSeqLen * kvHeads * headDim;
        long bytes = bytes(layers, kvHeads, headDim, maxSeqLen);
        keys = new MemorySegment[layers];
        values = new MemorySegment[layers];
        MemorySegment all;
        if (storage == Storage.DISK) {
            try {
                Path dir = Path.of(System.getProperty("java.io.tmpdir"));
                long free = Files.getFileStore(dir).getUsableSpace();
                if (bytes > free - MARGIN) {
                    arena.close();
                    throw new HerdException("the KV cache of " + maxSeqLen + " positions needs " + bytes + " bytes on disk, but " + dir
                            + " has " + free + " bytes free (keeping " + MARGIN + " spare): lower --max-seq-len");
                }
                file = Files.createTempFile("herd-kv-", ".bin");
                try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    all = ch.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
                }
            } catch (IOException e) {
                arena.close();
                throw new HerdException("cannot create the KV cache file in " + System.getProperty("java.io.tmpdir") + ": " + e.getMessage(), e);
            }
        } else {
            file = null;
            long available = Memory.available();
            if (bytes > available - MARGIN) {
                arena.close();
                throw new HerdException("the KV cache of " + maxSeqLen + " positions needs " + bytes + " bytes, but " + available
                        + " bytes of memory are available (keeping " + MARGIN + " spare): lower --max-seq-len");
            }
            all = arena.allocate(bytes, 64);
        }
        for (int l = 0; l < layers; l++) {
            keys[l] = all.asSlice(2 * l * perLayer, perLayer);
            values[l] = all.asSlice((2L * l + 1) * perLayer, perLayer);
        }
    }

    /** Bytes of keys and values for every layer and position; Long.MAX_VALUE when that overflows. */
    public static long bytes(int layers, int kvHeads, int headDim, int maxSeqLen) {
        try {
            return Math.multiplyExact(Math.multiplyExact(8L * layers, (long) kvHeads * headDim), (long) maxSeqLen);
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** Byte offset of the first value of {@code kvHead} at {@code pos} in a layer's keys or values. */
    long at(int kvHead, int pos) {
        return 4L * ((long) kvHead * maxSeqLen + pos) * headDim;
    }

    /** The file behind a disk cache, or null. */
    public Path file() {
        return file;
    }

    /** Frees the memory, or unmaps and deletes the file. */
    @Override
    public void close() {
        arena.close();
        if (file != null) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                file.toFile().deleteOnExit();
            }
        }
    }
}
