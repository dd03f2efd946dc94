package dev.herd.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Issue 13, item 8: bin/find-jdk finds a JDK 25 as `java` on PATH and in Homebrew's folders, not only in /usr/lib/jvm. */
class FindJdkTest {
    @TempDir
    Path dir;

    private static final Path JDK = Path.of(System.getProperty("java.home"));

    /** Runs bin/find-jdk without JAVA_HOME, with {@code env} added; returns what it printed. */
    private static String findJdk(Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("/bin/bash", "bin/find-jdk").redirectErrorStream(true);
        pb.environment().remove("JAVA_HOME");
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    @Test
    void findsTheJavaOnPath() throws Exception {
        Path jdk = Files.createSymbolicLink(dir.resolve("my-jdk"), JDK);
        assertThat(findJdk(Map.of("PATH", jdk.resolve("bin") + ":/usr/bin:/bin"))).isEqualTo(jdk.toString());
    }

    @Test
    void findsHomebrewsOpenjdk() throws Exception {
        Path contents = Files.createDirectories(dir.resolve("brew/opt/openjdk@25/libexec/openjdk.jdk/Contents"));
        Path home = Files.createSymbolicLink(contents.resolve("Home"), JDK);
        Path bin = Files.createDirectories(dir.resolve("bin")); // a PATH with the script's tools and no java
        for (String tool : new String[]{"bash", "sed", "dirname", "readlink"}) {
            Path real = Path.of("/usr/bin", tool).toFile().exists() ? Path.of("/usr/bin", tool) : Path.of("/bin", tool);
            Files.createSymbolicLink(bin.resolve(tool), real);
        }
        assertThat(findJdk(Map.of("PATH", bin.toString(), "HOMEBREW_PREFIX", dir.resolve("brew").toString()))).isEqualTo(home.toString());
    }
}
