package dev.herd.cli;

import dev.herd.HerdException;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Next-token log-probabilities of a scored text, as {@code herd perplexity --kl-divergence-base} writes them and
 * {@code --kl-divergence} reads them back (tools/agreement writes llama.cpp's in the same form). Little-endian:
 * the magic {@code HERDLP01}, the vocabulary size, then windows until the end of the file, each: its length L, the L
 * input tokens, the L target tokens (input shifted by one, plus the next), and L x vocab float log-probabilities.
 */
final class LogProbFile {
    private static final byte[] MAGIC = "HERDLP01".getBytes(StandardCharsets.US_ASCII);
    static final int MAX_VOCAB = 1 << 22, MAX_WINDOW = 1 << 20;

    private LogProbFile() {}

    /** One window of a text: input[p] is fed at position p, target[p] is the token that follows it. */
    record Window(int[] input, int[] target, float[] logProbs) {}

    static final class Writer implements AutoCloseable {
        private final OutputStream out;
        private final int vocab;

        Writer(Path file, int vocab) throws IOException {
            this.out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16);
            this.vocab = vocab;
            out.write(MAGIC);
            out.write(le(vocab).array());
        }

        /** Writes a window, turning its logits (input.length x vocab) into log-probabilities. */
        void window(int[] input, int[] target, float[] logits) throws IOException {
            out.write(le(input.length).array());
            out.write(le(input).array());
            out.write(le(target).array());
            ByteBuffer row = ByteBuffer.allocate(vocab * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            for (int p = 0; p < input.length; p++) {
                double norm = logSumExp(logits, p * vocab, vocab);
                row.clear();
                for (int i = 0; i < vocab; i++) row.putFloat((float) (logits[p * vocab + i] - norm));
                out.write(row.array());
            }
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }

    /** Reads a file window by window, checking every length against the file's size and Herd's limits. */
    static final class Reader implements AutoCloseable {
        private final Path file;
        private final DataInputStream in;
        private final int vocab;
        private long left;

        Reader(Path file) throws IOException {
            this.file = file;
            try {
                this.left = Files.size(file);
                this.in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16));
            } catch (NoSuchFileException e) {
                throw new HerdException(file + ": no such file");
            }
            byte[] magic = bytes(MAGIC.length);
            if (!Arrays.equals(magic, MAGIC)) throw bad("not a log-probability file (no HERDLP01 header)");
            vocab = anInt();
            if (vocab < 2 || vocab > MAX_VOCAB) throw bad("vocabulary of " + vocab + " tokens");
        }

        int vocab() {
            return vocab;
        }

        /** The next window, or null at the end of the file. */
        Window next() throws IOException {
            if (left == 0) return null;
            int length = anInt();
            if (length < 1 || length > MAX_WINDOW) throw bad("window of " + length + " tokens");
            if (left < (long) length * (8 + 4L * vocab)) throw bad("truncated: a window of " + length + " tokens does not fit in what is left");
            int[] input = tokens(length), target = tokens(length);
            for (int[] tokens : new int[][]{input, target}) {
                for (int t : tokens) if (t < 0 || t >= vocab) throw bad("token " + t + " outside the vocabulary of " + vocab);
            }
            float[] logProbs = new float[length * vocab];
            ByteBuffer.wrap(bytes(logProbs.length * Float.BYTES)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(logProbs);
            return new Window(input, target, logProbs);
        }

        private int anInt() throws IOException {
            return ByteBuffer.wrap(bytes(4)).order(ByteOrder.LITTLE_ENDIAN).getInt();
        }

        private int[] tokens(int n) throws IOException {
            int[] v = new int[n];
            ByteBuffer.wrap(bytes(4 * n)).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(v);
            return v;
        }

        private byte[] bytes(int n) throws IOException {
            if (n > left) throw bad("truncated");
            byte[] b = new byte[n];
            try {
                in.readFully(b);
            } catch (EOFException e) {
                throw bad("truncated");
            }
            left -= n;
            return b;
        }

        private HerdException bad(String what) {
            return new HerdException(file + ": " + what);
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /** log(sum(exp(v[off .. off + n)))), computed stably. */
    static double logSumExp(float[] v, int off, int n) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int i = 0; i < n; i++) max = Math.max(max, v[off + i]);
        for (int i = 0; i < n; i++) sum += Math.exp(v[off + i] - max);
        return max + Math.log(sum);
    }

    private static ByteBuffer le(int... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(v);
        return b;
    }
}
