package dev.herd;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.fail;

/**
 * Model files for tests: the committed copy under src/test/resources/models when there is one (the small files of the
 * shared models folder: tiny.t, tiny_q40.m, stories260K.bin, golden-stories15M.json), else the shared models folder,
 * which the build names in herd.shared (stories15M.bin, 59 MB, is only there). A missing file fails the test, never
 * skips it.
 */
public final class Shared {
    private Shared() {}

    public static Path model(String file) {
        URL committed = Shared.class.getResource("/models/" + file);
        if (committed != null) {
            try {
                return Path.of(committed.toURI());
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }
        String root = System.getProperty("herd.shared");
        if (root == null) fail("system property herd.shared is not set (the Maven build sets it to ../shared)");
        Path p = Path.of(root, "models", file);
        if (!Files.exists(p)) fail(p + " is missing: tests need the shared models folder (herd.shared=" + root + ")");
        return p;
    }
}
