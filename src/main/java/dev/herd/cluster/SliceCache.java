package dev.herd.cluster;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A worker's store of the slices it received, so that a restarted worker gets from its root only what it lacks.
 * {@code DIR/ENTRY/PART.slice}: ENTRY is the hex of a SHA-256 of the model's tensor table and the split plan
 * ({@link PlanMessage#sliceKey}), PART the slice's index in the plan, both computed by the worker (nothing the root
 * sends becomes a name). A file holds the slice's bytes as the root streamed them, then their SHA-256; it is used only
 * when its size and hash check out, and the root then compares that hash with its own bytes' before skipping it.
 * The folder is kept under a maximum by evicting whole entries, least recently used first. No failure of the cache
 * (a full disk, a file removed under it) fails a session: the slice is then streamed, or not stored.
 */
final class SliceCache {
    static final int HASH = 32;
    /** Disk space left free beside the cache. */
    static final long FREE = 1L << 30;
    private static final Pattern ENTRY = Pattern.compile("[0-9a-f]{64}");
    private static final LinkOption[] NO_LINKS = {LinkOption.NOFOLLOW_LINKS};

    private final Path dir;
    private final long maxBytes;
    private final PrintStream log;

    SliceCache(Path dir, long maxBytes, PrintStream log) {
        this.dir = dir;
        this.maxBytes = maxBytes;
        this.log = log;
    }

    /** $XDG_CACHE_HOME/herd/slices, else ~/.cache/herd/slices: on disk, not in /tmp (often RAM). */
    static Path defaultDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path cache = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return cache.resolve("herd").resolve("slices");
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    /** Adds {@code bytes} to {@code d} through {@code buffer}: a digest reads a heap array 2x faster than off-heap memory. */
    static void update(MessageDigest d, MemorySegment bytes, byte[] buffer) {
        for (long at = 0; at < bytes.byteSize(); at += buffer.length) {
            int n = (int) Math.min(buffer.length, bytes.byteSize() - at);
            MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, at, buffer, 0, n);
            d.update(buffer, 0, n);
        }
    }

    /**
     * The entry of one model and plan, whose slice files take {@code bytes} in all. Makes room for them (evicting other
     * entries) or, when they cannot fit, an entry that reads but does not store.
     */
    Entry entry(byte[] key, long bytes) {
        Path folder = dir.resolve(HexFormat.of().formatHex(key));
        boolean store = false;
        try {
            Files.createDirectories(dir);
            if (Files.isDirectory(folder, NO_LINKS)) {
                Files.setLastModifiedTime(folder, FileTime.fromMillis(System.currentTimeMillis())); // in use: evicted last
                try (DirectoryStream<Path> left = Files.newDirectoryStream(folder, "*.tmp")) { // from a session cut short
                    for (Path f : left) Files.deleteIfExists(f);
                }
            }
            store = makeRoom(folder, bytes);
            if (store) Files.createDirectories(folder);
        } catch (IOException | RuntimeException e) {
            log.println("slice cache " + dir + ": " + e.getMessage() + "; slices are not stored");
        }
        return new Entry(folder, store);
    }

    /** Evicts the least recently used other entries until {@code bytes} more fit the maximum and the disk. */
    private boolean makeRoom(Path current, long bytes) throws IOException {
        if (bytes > maxBytes) {
            log.printf("slice cache: this node's slices (%s) exceed the cache's maximum (%s); not stored%n", Budget.mib(bytes), Budget.mib(maxBytes));
            return false;
        }
        List<Path> others = new ArrayList<>();
        long used = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path e : entries) {
                if (!ENTRY.matcher(e.getFileName().toString()).matches() || !Files.isDirectory(e, NO_LINKS) || e.equals(current)) continue;
                others.add(e);
                used += size(e);
            }
        }
        others.sort(Comparator.comparing(SliceCache::lastUse));
        long have = Files.isDirectory(current, NO_LINKS) ? size(current) : 0;
        for (Path oldest : others) {
            if (used + Math.max(bytes, have) <= maxBytes) break;
            used -= size(oldest);
            delete(oldest);
            log.println("slice cache: evicted " + oldest.getFileName() + " (least recently used)");
        }
        FileStore store = Files.getFileStore(dir);
        if (used + Math.max(bytes, have) > maxBytes || store.getUsableSpace() < bytes - have + FREE) {
            log.printf("slice cache: no room for %s in %s; not stored%n", Budget.mib(bytes), dir);
            return false;
        }
        return true;
    }

    private static FileTime lastUse(Path entry) {
        try {
            return Files.getLastModifiedTime(entry, NO_LINKS);
        } catch (IOException e) {
            return FileTime.fromMillis(0);
        }
    }

    /** Bytes of the regular files directly in {@code entry}. */
    private static long size(Path entry) throws IOException {
        long n = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(entry)) {
            for (Path f : files) {
                BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class, NO_LINKS);
                if (a.isRegularFile()) n += a.size();
            }
        }
        return n;
    }

    private static void delete(Path entry) throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(entry)) {
            for (Path f : files) Files.deleteIfExists(f);
        }
        Files.deleteIfExists(entry);
    }

    /** One model's and plan's slices. */
    final class Entry {
        private final Path folder;
        private final byte[] buffer = new byte[1 << 16];
        private boolean store;

        private Entry(Path folder, boolean store) {
            this.folder = folder;
            this.store = store;
        }

        private Path file(int part) {
            return folder.resolve(part + ".slice");
        }

        /**
         * Reads slice {@code part} into {@code into} (its whole size) when it is stored intact; returns its SHA-256,
         * else null, deleting a file that failed its check.
         */
        byte[] load(int part, MemorySegment into) {
            Path f = file(part);
            if (!Files.isRegularFile(f, NO_LINKS)) return null;
            long n = into.byteSize();
            MessageDigest d = sha256();
            try (FileChannel in = FileChannel.open(f, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                if (in.size() != n + HASH) return broken(f, "holds " + in.size() + " bytes, not " + (n + HASH));
                for (long at = 0; at < n; ) {
                    ByteBuffer b = into.asSlice(at, Math.min(n - at, Cluster.CHUNK)).asByteBuffer();
                    while (b.hasRemaining()) if (in.read(b, at + b.position()) < 0) return broken(f, "ended early");
                    update(d, into.asSlice(at, b.limit()), buffer);
                    at += b.limit();
                }
                ByteBuffer stored = ByteBuffer.allocate(HASH);
                while (stored.hasRemaining()) if (in.read(stored, n + stored.position()) < 0) return broken(f, "ended early");
                byte[] hash = d.digest();
                return MessageDigest.isEqual(hash, stored.array()) ? hash : broken(f, "failed its hash check");
            } catch (IOException e) {
                return broken(f, "cannot be read (" + e.getMessage() + ")");
            }
        }

        private byte[] broken(Path f, String why) {
            log.println("slice cache: " + f + " " + why + "; the root sends that slice again");
            try {
                Files.deleteIfExists(f);
            } catch (IOException ignored) {
                // a later store replaces it
            }
            return null;
        }

        /** A file being written for {@code part}, or null when this entry does not store. */
        Writer writer(int part) {
            if (!store) return null;
            try {
                return new Writer(part, Files.createTempFile(folder, part + ".", ".tmp"));
            } catch (IOException e) {
                return failed(e);
            }
        }

        private Writer failed(IOException e) {
            store = false;
            log.println("slice cache: cannot store in " + folder + " (" + e.getMessage() + "); slices are not stored this time");
            return null;
        }

        /** Writes one slice as it arrives, then its hash, and gives it its name only when complete. */
        final class Writer implements AutoCloseable {
            private final int part;
            private final Path temp;
            private final FileChannel out;
            private final MessageDigest digest = sha256();
            private boolean done;

            private Writer(int part, Path temp) throws IOException {
                this.part = part;
                this.temp = temp;
                this.out = FileChannel.open(temp, StandardOpenOption.WRITE);
            }

            int part() {
                return part;
            }

            /** False when the store failed (then nothing more is stored in this session). */
            boolean write(byte[] b, int off, int n) {
                digest.update(b, off, n);
                try {
                    ByteBuffer buf = ByteBuffer.wrap(b, off, n);
                    while (buf.hasRemaining()) out.write(buf);
                    return true;
                } catch (IOException e) {
                    close();
                    failed(e);
                    return false;
                }
            }

            /** Ends the file with the hash and names it. */
            void commit() {
                try {
                    ByteBuffer hash = ByteBuffer.wrap(digest.digest());
                    while (hash.hasRemaining()) out.write(hash);
                    out.close();
                    Files.move(temp, file(part), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    done = true;
                } catch (IOException e) {
                    close();
                    failed(e);
                }
            }

            /** Drops an unfinished file. */
            @Override
            public void close() {
                try {
                    out.close();
                    if (!done) Files.deleteIfExists(temp);
                } catch (IOException ignored) {
                    // a leftover temporary file counts toward the maximum and goes with its entry
                }
            }
        }
    }
}
