package dev.herd.cli;

import dev.herd.HerdException;
import dev.herd.engine.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;

/**
 * Perplexity of a model on a text: exp of the mean negative log-likelihood of each token given the ones before it.
 * Texts longer than the context are cut into windows that each start with BOS.
 */
@Command(name = "perplexity", mixinStandardHelpOptions = true, description = "Measure a model's perplexity on a text file.")
final class PerplexityCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = "--file", required = true, paramLabel = "TEXT", description = "UTF-8 text to score.")
    Path file;

    @Override
    public Integer call() throws IOException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new HerdException(file + ": no such file");
        }
        try (ModelOptions.Run run = model.open()) {
            Model m = run.model();
            int[] ids = m.tokenizer.encode(text);
            if (ids.length < 2) throw new HerdException(file + ": too short to measure (" + ids.length + " tokens)");
            int window = m.llama.maxSeqLen() - 1, vocab = m.llama.vocab(), bos = m.tokenizer.bos();
            double nll = 0;
            int scored = 0;
            long start = System.nanoTime();
            for (int from = 0; from < ids.length; from += window) {
                int[] chunk = Arrays.copyOfRange(ids, from, Math.min(ids.length, from + window));
                int[] input = new int[chunk.length + 1];
                input[0] = bos >= 0 ? bos : chunk[0];
                System.arraycopy(chunk, 0, input, 1, chunk.length);
                float[] logits = m.llama.forward(Arrays.copyOf(input, input.length - 1), 0, false);
                for (int p = 0; p < chunk.length; p++) {
                    nll -= logProb(logits, p * vocab, vocab, chunk[p]);
                    scored++;
                }
            }
            double ppl = Math.exp(nll / scored);
            System.out.printf("perplexity %.4f over %d tokens (mean log-likelihood %.4f, %.2f bits/token, %.1f tok/s)%n",
                    ppl, scored, -nll / scored, nll / scored / Math.log(2), scored / ((System.nanoTime() - start) / 1e9));
        }
        return 0;
    }

    /** log softmax(logits[off .. off + n))[token], computed stably. */
    static double logProb(float[] logits, int off, int n, int token) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[off + i]);
        for (int i = 0; i < n; i++) sum += Math.exp(logits[off + i] - max);
        return logits[off + token] - max - Math.log(sum);
    }
}
