package dev.herd.engine;

import java.nio.file.Files;
import java.nio.file.Path;

/** The read-only reference data folder (system property herd.shared). Missing files fail the test, never skip it. */
final class SharedFiles {
    private SharedFiles() {}

    static Path model(String name) {
        String root = System.getProperty("herd.shared");
        if (root == null) throw new AssertionError("system property herd.shared is not set (surefire sets it to ../shared)");
        Path p = Path.of(root, "models", name);
        if (!Files.isRegularFile(p)) throw new AssertionError("reference file " + p + " is missing: these tests need it");
        return p;
    }
}
