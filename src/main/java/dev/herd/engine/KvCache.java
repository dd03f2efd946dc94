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
 * memory, or in a memory-mapped file ({@code --kv-cache-storage disk}) that the OS pages in and out, for long contexts
 * on machines short of RAM. The file is deleted as soon as it is mapped (the mapping keeps its blocks until it is
 * unmapped, so no exit, not even SIGKILL, leaves it behind); where an open file cannot be deleted (Windows) it is
 * deleted at close and at JVM exit. Each KV head's positions are contiguous ([kvHead][pos][headDim]) so attention for
 * one head streams through one block, and a node that owns whole KV heads owns whole blocks.
 */
public final class KvCache implements AutoCloseable {
    /** Where a KV cache lives: in memory ({@code dir} null) or in a file under {@code dir}. */
    public record Storage(Path dir) {
        public static final Storage MEMORY = new Storage(null);

        public boolean onDisk() {
            return dir != null;
        }

        /** $XDG_CACHE_HOME/herd/kv, else ~/.cache/herd/kv: on disk, where /tmp is often in RAM. */
        public static Path defaultDir() {
            String xdg = System.getenv("XDG_CACHE_HOME");
            Path cache = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
            return cache.resolve("herd").resolve("kv");
        }
    }

    /** Memory (or disk) left to everything else when sizing the cache: 256 MiB. */
    static final long MARGIN = 256L << 20;

    public final int maxSeqLen;
    final int headDim;
    final MemorySegment[] keys;
    final MemorySegment[] values;
    private final Arena arena = Arena.ofShared();
    /** The file behind a disk cache while it still has a name (only where it could not be deleted once mapped). */
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
        String why = shortfall(bytes, maxSeqLen, storage);
        if (why != null) {
            arena.close();
            throw new HerdException(why);
        }
        MemorySegment all;
        if (storage.onDisk()) {
            Path dir = storage.dir();
            Path f = null;
            try {
                f = Files.createTempFile(dir, "herd-kv-", ".bin");
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    all = ch.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
                }
                f = unlink(f);
            } catch (IOException | RuntimeException e) {
                arena.close();
                delete(f);
                throw new HerdException("cannot create the KV cache file in " + dir + ": " + e.getMessage() + " (choose another --kv-cache-dir)", e);
            }
            file = f;
        } else {
            file = null;
            all = arena.allocate(bytes, 64);
        }
        for (int l = 0; l < layers; l++) {
            keys[l] = all.asSlice(2 * l * perLayer, perLayer);
            values[l] = all.asSlice((2L * l + 1) * perLayer, perLayer);
        }
    }

    /** Bytes this machine can give a KV cache in {@code storage} now: available memory, or free space in its folder. */
    static long room(Storage storage) {
        if (!storage.onDisk()) return Memory.available();
        try {
            Files.createDirectories(storage.dir());
            return Files.getFileStore(storage.dir()).getUsableSpace();
        } catch (IOException e) {
            throw new HerdException("cannot use " + storage.dir() + " as the KV cache folder: " + e.getMessage() + " (choose another --kv-cache-dir)", e);
        }
    }

    /** The most positions a cache of this shape can hold here now, keeping {@link #MARGIN} spare. */
    public static int positionsThatFit(int layers, int kvHeads, int headDim, Storage storage) {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(0, room(storage) - MARGIN) / bytesPerPosition(layers, kvHeads, headDim));
    }

    /** Null when a cache of {@code bytes} fits here now, else why not (with the numbers and what to do). */
    public static String shortfall(long bytes, int maxSeqLen, Storage storage) {
        long room = room(storage);
        if (bytes <= room - MARGIN) return null;
        return storage.onDisk()
                ? "the KV cache of " + maxSeqLen + " positions needs " + bytes + " bytes on disk, but " + storage.dir() + " has " + room
                        + " bytes free (keeping " + MARGIN + " spare): lower --max-seq-len or choose another --kv-cache-dir"
                : "the KV cache of " + maxSeqLen + " positions needs " + bytes + " bytes, but " + room
                        + " bytes of memory are available (keeping " + MARGIN + " spare): lower --max-seq-len";
    }

    /** Deletes a mapped file's name now; returns null, or the file when the OS keeps open files (deleted on exit then). */
    private static Path unlink(Path f) {
        try {
            Files.delete(f);
            return null;
        } catch (IOException e) {
            f.toFile().deleteOnExit();
            return f;
        }
    }

    private static void delete(Path f) {
        if (f == null) return;
        try {
            Files.deleteIfExists(f);
        } catch (IOException e) {
            f.toFile().deleteOnExit();
        }
    }

    /** Bytes of keys and values per position of the context: every layer's keys and values, F32. */
    public static long bytesPerPosition(int layers, int kvHeads, int headDim) {
        return bytes(layers, kvHeads, headDim, 1);
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

    /** Unmaps or frees the cache (and deletes the file where it could not be deleted while mapped). */
    @Override
    public void close() {
        arena.close();
        delete(file);
    }
}
