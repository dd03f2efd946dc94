package dev.herd.format;

import dev.herd.HerdException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Maps a model file read-only (FFM: no copy, no 2 GiB limit) and hands it to a parser that keeps the arena: the whole
 * file, or only its first bytes when only the header is wanted ({@link #head}).
 */
final class Mapped {
    /** The first window a header is read in: a Llama 3 GGUF's header, tokenizer included, takes about 8 MiB. */
    static final long HEAD = 16 << 20;

    private Mapped() {}

    interface Parser<T> {
        /** {@code file} maps the first bytes of a file of {@code size} bytes (all of them unless reading a head). */
        T parse(MemorySegment file, long size, Arena arena);
    }

    /** Thrown by a parser that needs more of the file than its window maps; {@link #head} then maps a larger one. */
    static final class WindowTooSmall extends RuntimeException {
        WindowTooSmall() {
            super(null, null, false, false);
        }
    }

    static <T> T open(Path path, Parser<T> parser) {
        return open(path, Long.MAX_VALUE, parser);
    }

    /** Parses the header in a window of the file's first bytes, growing it while the parser needs more. */
    static <T> T head(Path path, Parser<T> parser) {
        for (long window = HEAD; ; window *= 4) {
            try {
                return open(path, window, parser);
            } catch (WindowTooSmall e) {
                // the header is longer: map four times as much (never past the file's end, where the parser fails)
            }
        }
    }

    /** The arena is closed here if parsing fails; otherwise it belongs to what the parser returns. */
    private static <T> T open(Path path, long window, Parser<T> parser) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            return parser.parse(ch.map(FileChannel.MapMode.READ_ONLY, 0, Math.min(size, window), arena), size, arena);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new HerdException(path + ": no such file");
        } catch (IOException e) {
            arena.close();
            throw new HerdException(path + ": cannot read (" + e.getMessage() + ")", e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }
}
