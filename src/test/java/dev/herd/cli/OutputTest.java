package dev.herd.cli;

import dev.herd.cluster.Worker;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.herd.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** Issue 13, item 6: all cores by default; stats and progress on stderr that a terminal and a log file both read well. */
class OutputTest {
    static final int CORES = Runtime.getRuntime().availableProcessors();

    @Test
    void threadsDefaultToTheAvailableProcessors() throws Exception {
        CliTest.Result r = run("inference", "--model", CliTest.fixture().toString(), "--prompt", "Once", "--steps", "4", "--temperature", "0");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains(", " + CORES + " threads,");
        for (String command : List.of("inference", "chat", "api", "worker")) {
            assertThat(run(command, "--help").out().replaceAll("\\s+", " ")).as(command).contains("--nthreads=N").contains("the available processors, " + CORES + " here");
        }
    }

    /** Per-token lines only when asked for: on a terminal they would land between the pieces of the text. */
    @Test
    void statsFollowTheTextUnlessAskedPerToken() throws Exception {
        CliTest.Result r = run("inference", "--model", CliTest.fixture().toString(), "--prompt", "Once", "--steps", "8", "--temperature", "0");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).doesNotContain("Pred ").doesNotContain("Eval ").contains("Decode:");
        assertThat(r.out()).doesNotContain("Decode:").doesNotContain("tok/s");
    }

    /** Off a terminal: plain lines (no carriage returns in a log), one per step, the percentage never going back. */
    @Test
    void weightStreamingProgressIsPlainLinesOffATerminal() throws Exception {
        List<Worker> workers = new ArrayList<>();
        try {
            List<String> args = new ArrayList<>(List.of("inference", "--model", CliTest.fixture().toString(), "--prompt", "Once", "--steps", "4",
                    "--temperature", "0", "--workers"));
            for (int i = 0; i < 2; i++) {
                Worker w = new Worker("127.0.0.1", 0, 1, null, new PrintStream(new ByteArrayOutputStream()));
                workers.add(w);
                Thread.ofPlatform().daemon().start(w::serve);
                args.add("127.0.0.1:" + w.port());
            }
            CliTest.Result r = run(args.toArray(String[]::new));
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.err()).doesNotContain("\r");
            assertMonotonic(r.err(), Pattern.compile("(?m)^streaming weights to workers: (\\d+)% of [0-9.]+ MiB$"));
        } finally {
            for (Worker w : workers) w.close();
        }
    }

    /** Workers' streams report their running total in any order; the bar only moves forward, in both modes. */
    @Test
    void progressNeverGoesBackwards() {
        long[] reports = {0, 30, 20, 55, 40, 70, 69, 100, 90};
        for (boolean tty : new boolean[]{true, false}) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            ProgressBar bar = new ProgressBar(new PrintStream(b, true, StandardCharsets.UTF_8), "load", tty);
            for (long done : reports) bar.update(done, 100);
            String out = b.toString(StandardCharsets.UTF_8);
            List<Integer> shown = assertMonotonic(out, Pattern.compile("(\\d+)% "));
            assertThat(shown).as("tty " + tty).containsExactlyElementsOf(tty ? List.of(0, 30, 55, 70, 100) : List.of(0, 30, 55, 70, 100));
            assertThat(out.contains("\r")).isEqualTo(tty);
        }
    }

    private static List<Integer> assertMonotonic(String text, Pattern percent) {
        List<Integer> shown = new ArrayList<>();
        Matcher m = percent.matcher(text);
        while (m.find()) shown.add(Integer.parseInt(m.group(1)));
        assertThat(shown).as(text).isNotEmpty().isSorted().endsWith(100);
        return shown;
    }
}
