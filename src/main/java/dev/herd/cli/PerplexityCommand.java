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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * Perplexity of a model on a text: exp of the mean negative log-likelihood of each token given the ones before it.
 * Texts longer than the context are cut into windows that each start with BOS. As llama.cpp's perplexity tool, it can
 * save every position's next-token distribution ({@code --kl-divergence-base}) and compare another model, or another
 * engine's distributions saved in the same form, with it ({@code --kl-divergence}).
 */
@Command(name = "perplexity", mixinStandardHelpOptions = true, description = "Measure a model's perplexity on a text file.")
final class PerplexityCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = "--file", paramLabel = "TEXT", description = "UTF-8 text to score (not with --kl-divergence, which scores the base file's tokens).")
    Path file;

    @Option(names = "--kl-divergence-base", paramLabel = "FILE", description = "Also save every position's next-token log-probabilities to FILE.")
    Path saveTo;

    @Option(names = "--kl-divergence", paramLabel = "FILE", description = "Score the tokens saved in FILE and compare this model's next-token distributions with FILE's: KL divergence and top-1 agreement.")
    Path base;

    @Override
    public Integer call() throws IOException {
        if ((file == null) == (base == null)) throw new HerdException("give either --file TEXT or --kl-divergence FILE");
        if (base != null && saveTo != null) throw new HerdException("--kl-divergence-base and --kl-divergence do not go together");
        try (ModelOptions.Run run = model.open()) {
            Model m = run.model();
            if (base != null) compare(m);
            else score(m, windows(m, read(file)));
        }
        return 0;
    }

    private static String read(Path text) throws IOException {
        try {
            return Files.readString(text);
        } catch (NoSuchFileException e) {
            throw new HerdException(text + ": no such file");
        }
    }

    /** The text's tokens as windows of at most the context length, each fed from BOS: {input, target} pairs. */
    private List<int[][]> windows(Model m, String text) {
        int[] ids = m.tokenizer.encode(text);
        if (ids.length < 2) throw new HerdException(file + ": too short to measure (" + ids.length + " tokens)");
        int window = m.llama.maxSeqLen() - 1, bos = m.tokenizer.bos();
        List<int[][]> windows = new ArrayList<>();
        for (int from = 0; from < ids.length; from += window) {
            int[] target = Arrays.copyOfRange(ids, from, Math.min(ids.length, from + window));
            int[] input = new int[target.length];
            input[0] = bos >= 0 ? bos : target[0];
            System.arraycopy(target, 0, input, 1, target.length - 1);
            windows.add(new int[][]{input, target});
        }
        return windows;
    }

    private void score(Model m, List<int[][]> windows) throws IOException {
        int vocab = m.llama.vocab();
        double nll = 0;
        int scored = 0;
        long start = System.nanoTime();
        try (LogProbFile.Writer out = saveTo == null ? null : new LogProbFile.Writer(saveTo, vocab)) {
            for (int[][] w : windows) {
                float[] logits = m.llama.forward(w[0], 0, false);
                for (int p = 0; p < w[1].length; p++) {
                    nll -= logProb(logits, p * vocab, vocab, w[1][p]);
                    scored++;
                }
                if (out != null) out.window(w[0], w[1], logits);
            }
        }
        System.out.printf("perplexity %.4f over %d tokens (mean log-likelihood %.4f, %.2f bits/token, %.1f tok/s)%n",
                Math.exp(nll / scored), scored, -nll / scored, nll / scored / Math.log(2), scored / ((System.nanoTime() - start) / 1e9));
        if (saveTo != null) System.out.println("saved the next-token log-probabilities of " + scored + " positions to " + saveTo);
    }

    private void compare(Model m) throws IOException {
        int vocab = m.llama.vocab();
        Divergence d = new Divergence();
        try (LogProbFile.Reader in = new LogProbFile.Reader(base)) {
            if (in.vocab() != vocab) {
                throw new HerdException(base + ": saved with a vocabulary of " + in.vocab() + " tokens, the model has " + vocab);
            }
            for (LogProbFile.Window w; (w = in.next()) != null; ) {
                if (w.input().length > m.llama.maxSeqLen()) {
                    throw new HerdException(base + ": a window of " + w.input().length + " tokens exceeds the context of " + m.llama.maxSeqLen());
                }
                float[] logits = m.llama.forward(w.input(), 0, false);
                for (int p = 0; p < w.input().length; p++) d.add(w.logProbs(), logits, p * vocab, vocab, w.target()[p]);
            }
        }
        if (d.positions == 0) throw new HerdException(base + ": holds no window");
        System.out.println(d.report(base));
    }

    /** log softmax(logits[off .. off + n))[token], computed stably. */
    static double logProb(float[] logits, int off, int n, int token) {
        return logits[off + token] - LogProbFile.logSumExp(logits, off, n);
    }
}
