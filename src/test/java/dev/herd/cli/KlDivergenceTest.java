package dev.herd.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.herd.cli.CliTest.fixture;
import static dev.herd.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** {@code herd perplexity --kl-divergence-base / --kl-divergence}: saved distributions, compared back, bad files refused. */
class KlDivergenceTest {
    @TempDir
    static Path dir;
    static Path text, base;

    @BeforeAll
    static void saveTheFixturesDistributions() throws Exception {
        text = Path.of(KlDivergenceTest.class.getResource("/text/tinystory.txt").toURI());
        base = dir.resolve("q8.lp");
        CliTest.Result r = run("perplexity", "--model", fixture().toString(), "--file", text.toString(), "--kl-divergence-base", base.toString(), "--nthreads", "2");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("saved the next-token log-probabilities of");
    }

    @Test
    void theSameModelAgreesWithItselfEverywhere() throws Exception {
        CliTest.Result r = run("perplexity", "--model", fixture().toString(), "--kl-divergence", base.toString(), "--nthreads", "2");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(mean(r.out())).isLessThan(1e-6);
        assertThat(r.out()).contains("top-1 agreement 100.00 %");
        Matcher m = Pattern.compile("perplexity ([0-9.]+) against the base's ([0-9.]+)").matcher(r.out());
        assertThat(m.find()).as(r.out()).isTrue();
        assertThat(m.group(1)).isEqualTo(m.group(2));
    }

    @Test
    void aCoarserQuantizationDivergesALittle() throws Exception {
        Path q4 = dir.resolve("q4.gguf");
        assertThat(run("convert", "--model", fixture().toString(), "--weights-float-type", "q40", "--output", q4.toString()).code()).isZero();
        CliTest.Result r = run("perplexity", "--model", q4.toString(), "--kl-divergence", base.toString(), "--nthreads", "2");
        assertThat(r.code()).as(r.err()).isZero();
        // Q4_0 costs stories15M ~8 % perplexity (docs/formats.md): a real but small divergence from Q8_0.
        assertThat(mean(r.out())).isBetween(1e-3, 0.2);
        assertThat(agreement(r.out())).isBetween(80.0, 99.99);
    }

    @Test
    void klOfKnownDistributions() {
        Divergence d = new Divergence();
        float[] baseLp = {(float) Math.log(0.5), (float) Math.log(0.5)};
        float[] logits = {(float) Math.log(9), 0}; // softmax: 0.9, 0.1
        d.add(baseLp, logits, 0, 2, 0);
        assertThat(d.meanKl()).isCloseTo(0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(0.5 / 0.1), within(1e-6));
        assertThat(d.topAgreement()).as("a tie in the base counts its first token as top").isEqualTo(1.0);
    }

    @Test
    void badFilesAreOneLine() throws Exception {
        byte[] whole = Files.readAllBytes(base);
        Path truncated = dir.resolve("truncated.lp"), notOne = dir.resolve("text.lp"), hugeWindow = dir.resolve("huge.lp");
        Files.write(truncated, Arrays.copyOf(whole, whole.length - 5));
        Files.writeString(notOne, "hello, this is not it");
        byte[] huge = Arrays.copyOf(whole, 64);
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putInt(12, Integer.MAX_VALUE);
        Files.write(hugeWindow, huge);
        for (Object[] c : new Object[][]{{truncated, "truncated"}, {notOne, "not a log-probability file"},
                {hugeWindow, "window of 2147483647 tokens"}, {dir.resolve("absent.lp"), "no such file"}}) {
            CliTest.Result r = run("perplexity", "--model", fixture().toString(), "--kl-divergence", c[0].toString());
            assertThat(r.code()).as(r.err()).isEqualTo(1);
            assertThat(r.err().strip()).contains(c[1].toString()).doesNotContain("\n").doesNotContain("Exception");
        }
        Path tiny = Path.of(KlDivergenceTest.class.getResource("/models/tiny_q40.m").toURI());
        Path tinyTokenizer = Path.of(KlDivergenceTest.class.getResource("/models/tiny.t").toURI());
        CliTest.Result r = run("perplexity", "--model", tiny.toString(), "--tokenizer", tinyTokenizer.toString(), "--kl-divergence", base.toString());
        assertThat(r.err()).contains("saved with a vocabulary of 32000 tokens, the model has 384");
        assertThat(run("perplexity", "--model", fixture().toString()).err()).contains("give either --file TEXT or --kl-divergence FILE");
    }

    private static double mean(String out) {
        Matcher m = Pattern.compile("kl-divergence from \\S+: mean ([0-9.]+)").matcher(out);
        assertThat(m.find()).as(out).isTrue();
        return Double.parseDouble(m.group(1));
    }

    private static double agreement(String out) {
        Matcher m = Pattern.compile("top-1 agreement ([0-9.]+) %").matcher(out);
        assertThat(m.find()).as(out).isTrue();
        return Double.parseDouble(m.group(1));
    }
}
