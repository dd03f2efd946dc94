package dev.herd.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.kernel.VectorWidth;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The CLI end to end, in process: output, report, and one-line errors with exit codes for bad input. */
class CliTest {
    @TempDir
    Path dir;

    record Result(int code, String out, String err) {}

    static synchronized Result run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.command().execute(args);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static Path fixture() throws Exception {
        return Path.of(CliTest.class.getResource("/models/stories15M-q8_0.gguf").toURI());
    }

    /** The generation service's context check, with the run's own bound named. */
    @Test
    void inferenceRefusesAPromptThatLeavesNoStepToGenerate() throws Exception {
        Result r = run("inference", "--model", fixture().toString(), "--prompt", "Once upon a time", "--steps", "5");
        assertThat(r.code()).isNotZero();
        assertThat(r.err().strip()).endsWith("the prompt has 5 tokens but --steps is 5 (the prompt included): no room to generate");
        assertThat(run("inference", "--model", fixture().toString(), "--prompt", "Once upon a time", "--steps", "6").code()).isZero();
    }

    @Test
    void inferencePrintsTheStoryAndWritesAReport() throws Exception {
        Path report = dir.resolve("report.json");
        Result r = run("inference", "--model", fixture().toString(), "--prompt", "Once upon a time", "--steps", "24",
                "--temperature", "0", "--nthreads", "2", "--report", report.toString(), "--stats");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("Once upon a time, there was a little girl named Lily.");
        assertThat(r.err()).contains("Eval").contains("Pred").contains("Prompt:").contains("Decode:");
        JsonNode json = new ObjectMapper().readTree(report.toFile());
        assertThat(json.get("promptIds").size()).isEqualTo(5);
        assertThat(json.get("generatedIds").size()).isEqualTo(19);
        assertThat(json.get("tokens").get(3).get("evalMs").asDouble()).isPositive();
        assertThat(json.get("decodeTokensPerSecond").asDouble()).isPositive();
    }

    /**
     * Prompt tok/s is the prompt's evaluation alone; the time to first token, reported apart, adds tokenizing and
     * sampling the first token. Decode tok/s counts decode steps over their time.
     */
    @Test
    void reportSeparatesPromptEvaluationFromTimeToFirstToken() throws Exception {
        Path report = dir.resolve("report.json");
        Result r = run("inference", "--model", fixture().toString(), "--prompt", "Once upon a time", "--steps", "16",
                "--temperature", "0", "--report", report.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).containsPattern("TTFT: +[0-9.]+ ms \\(tokenize [0-9.]+ ms, prompt [0-9.]+ ms, first sample [0-9.]+ ms\\)");
        JsonNode json = new ObjectMapper().readTree(report.toFile());
        double promptMs = json.get("promptMs").asDouble(), ttft = json.get("timeToFirstTokenMs").asDouble();
        assertThat(promptMs).isPositive();
        assertThat(ttft).isGreaterThan(promptMs + json.get("tokenizeMs").asDouble());
        assertThat(json.get("promptTokensPerSecond").asDouble()).isCloseTo(json.get("promptIds").size() / (promptMs / 1000), within(1e-6));
        assertThat(json.get("stop").asText()).isEqualTo("length");
        assertThat(json.get("vectorBits").asInt()).as("the vector width in use").isEqualTo(VectorWidth.BITS);
        assertThat(r.err()).contains(VectorWidth.describe());
        assertThat(json.get("decodeSteps").asInt()).isEqualTo(json.get("generatedIds").size() - 1);
        assertThat(json.get("decodeTokensPerSecond").asDouble())
                .isCloseTo(json.get("decodeSteps").asInt() / (json.get("decodeMs").asDouble() / 1000), within(1e-6));
    }

    /** Cold (interpreted) and warm (compiled) runs, and any thread count, give the same text: float sums have one order. */
    @Test
    void sameSeedSameText() throws Exception {
        String[] args = {"inference", "--model", fixture().toString(), "--prompt", "The dog", "--steps", "60", "--seed", "42", "--temperature", "1"};
        String first = run(args).out();
        assertThat(run(args).out()).isEqualTo(first);
        String[] twoThreads = Arrays.copyOf(args, args.length + 2);
        twoThreads[args.length] = "--nthreads";
        twoThreads[args.length + 1] = "2";
        assertThat(run(twoThreads).out()).isEqualTo(first);
    }

    @Test
    void unknownFlagIsOneLineNamingIt() throws Exception {
        Result r = run("inference", "--model", fixture().toString(), "--prompt", "x", "--steps", "5", "--bogus", "1");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).startsWith("herd inference: Unknown options: '--bogus'").doesNotContain("\n");
    }

    @Test
    void badModelFilesAreOneLineErrorsNamingTheFile() throws Exception {
        byte[] good = Files.readAllBytes(fixture());
        Path missing = dir.resolve("missing.gguf"), magic = dir.resolve("magic.gguf"), cut = dir.resolve("cut.gguf"), shortTensor = dir.resolve("short.gguf");
        Files.write(magic, "not a model at all, just text".getBytes());
        Files.write(cut, Arrays.copyOf(good, 5000));
        Files.write(shortTensor, Arrays.copyOf(good, good.length - (1 << 20)));
        String[][] cases = {{missing.toString(), "no such file"}, {magic.toString(), "not a GGUF file"},
                {cut.toString(), "truncated or corrupt"}, {shortTensor.toString(), "past the end of the file"}};
        for (String[] c : cases) {
            Result r = run("inference", "--model", c[0], "--prompt", "x", "--steps", "5");
            assertThat(r.code()).as(c[0]).isEqualTo(1);
            assertThat(r.err().strip()).as(c[0]).startsWith("herd: " + c[0]).contains(c[1]).doesNotContain("\n").doesNotContain("Exception");
        }
        Result verbose = run("inference", "--model", magic.toString(), "--prompt", "x", "--steps", "5", "--verbose");
        assertThat(verbose.err()).contains("\tat dev.herd.");
    }

    @Test
    void badValuesAreNamed() throws Exception {
        assertThat(run("inference", "--model", fixture().toString(), "--prompt", "x", "--steps", "5", "--nthreads", "0").err())
                .contains("--nthreads must be between 1 and 1024");
        assertThat(run("inference", "--model", fixture().toString(), "--prompt", "x", "--steps", "5", "--buffer-float-type", "q40").err())
                .contains("--buffer-float-type must be q80 or f32");
        assertThat(run("inference", "--model", fixture().toString(), "--prompt", "x", "--steps", "many").err())
                .contains("--steps").contains("many");
    }

    @Test
    void perplexityOfTheFixtureOnAShortStory() throws Exception {
        Path text = Path.of(CliTest.class.getResource("/text/tinystory.txt").toURI());
        Result r = run("perplexity", "--model", fixture().toString(), "--file", text.toString());
        assertThat(r.code()).as(r.err()).isZero();
        double ppl = Double.parseDouble(r.out().replaceAll("(?s)^perplexity ([0-9.]+) .*", "$1"));
        assertThat(ppl).as("measured 3.80 (docs/formats.md); a broken model or tokenizer scores in the hundreds").isBetween(3.5, 4.2);
    }

    @Test
    void logProbIsALogSoftmax() {
        float[] logits = {1, 2, 3, 0, 5, 6};
        double sum = Math.exp(0 - 6) + Math.exp(5 - 6) + Math.exp(6 - 6);
        assertThat(PerplexityCommand.logProb(logits, 3, 3, 2)).isCloseTo(-Math.log(sum), within(1e-9));
    }
}
