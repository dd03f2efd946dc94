package dev.herd.format;

import dev.herd.HerdException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Maps a whole model file read-only (FFM: no copy, no 2 GiB limit) and hands it to a parser that keeps the arena. */
final class Mapped {
    private Mapped() {}

    interface Parser<T> {
        T parse(MemorySegment file, Arena arena);
    }

    /** The arena is closed here if parsing fails; otherwise it belongs to what the parser returns. */
    static <T> T open(Path path, Parser<T> parser) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return parser.parse(ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena), arena);
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
