package dev.herd;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.fail;

/**
 * Committed copies of files of the shared models folder (src/test/resources/models: tiny.t, tiny_q40.m,
 * stories260K.bin, golden-stories15M.json). Tests never read ../shared itself, which only the project's own machines
 * have: a file that is not committed fails the test, never skips it.
 */
public final class Shared {
    private Shared() {}

    public static Path model(String file) {
        URL committed = Shared.class.getResource("/models/" + file);
        if (committed == null) fail(file + " is not in src/test/resources/models: tests read committed files only");
        try {
            return Path.of(committed.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
