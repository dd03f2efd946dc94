package dev.herd;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.fail;

/** Files of the shared models folder; the build sets herd.shared, and a missing file fails the test, never skips it. */
public final class Shared {
    private Shared() {}

    public static Path model(String file) {
        String root = System.getProperty("herd.shared");
        if (root == null) fail("system property herd.shared is not set (the Maven build sets it to ../shared)");
        Path p = Path.of(root, "models", file);
        if (!Files.exists(p)) fail(p + " is missing: tests need the shared models folder (herd.shared=" + root + ")");
        return p;
    }
}
