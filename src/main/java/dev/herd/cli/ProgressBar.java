package dev.herd.cli;

import dev.herd.cluster.Cluster;
import dev.herd.convert.Progress;

import java.io.Console;
import java.io.PrintStream;

/**
 * Progress on stderr: on a terminal a one-line bar redrawn in place; elsewhere (a log file, a pipe) a plain line every
 * {@value #STEP} %, so logs hold no carriage returns. Never goes backwards, although the workers' streams report in
 * any order.
 */
final class ProgressBar implements Progress, Cluster.Progress {
    private static final int WIDTH = 30, STEP = 10;
    private final PrintStream err;
    private final String label;
    private final boolean tty;
    private int shown = -1;
    private boolean ended;

    ProgressBar(PrintStream err, String label) {
        this(err, label, terminal());
    }

    ProgressBar(PrintStream err, String label, boolean tty) {
        this.err = err;
        this.label = label;
        this.tty = tty;
    }

    /** Whether this process writes to a terminal (a redirected stderr alone is not told apart). */
    static boolean terminal() {
        Console c = System.console();
        return c != null && c.isTerminal();
    }

    /** Conversion: tensors and bytes written. */
    @Override
    public synchronized void update(int tensor, int tensors, long done, long total) {
        show(done, total, tensor == tensors, String.format("%d/%d tensors, %s / %s", tensor, tensors, size(done), size(total)));
    }

    /** Weights streamed to the workers. */
    @Override
    public synchronized void update(long done, long total) {
        show(done, total, done >= total, "of " + size(total));
    }

    private void show(long done, long total, boolean end, String detail) {
        int percent = total == 0 ? 100 : (int) Math.min(100, 100 * done / total);
        if (ended || percent < shown || percent == shown && !end) return;
        if (!tty && !end && shown >= 0 && percent / STEP == shown / STEP) return;
        shown = percent;
        ended = end;
        if (tty) {
            int filled = percent * WIDTH / 100;
            err.printf("\r%s [%s%s] %3d%% %s", label, "#".repeat(filled), ".".repeat(WIDTH - filled), percent, detail);
            if (end) err.println();
        } else {
            err.printf("%s: %d%% %s%n", label, percent, detail);
        }
        err.flush();
    }

    static String size(long bytes) {
        if (bytes >= 1L << 30) return String.format("%.2f GiB", bytes / (double) (1L << 30));
        return String.format("%.1f MiB", bytes / (double) (1 << 20));
    }
}
