package dev.herd.cli;

import dev.herd.convert.Progress;

import java.io.PrintStream;

/** A one-line progress bar on stderr: tensors and bytes done of the total. */
final class ProgressBar implements Progress {
    private static final int WIDTH = 30;
    private final PrintStream err;
    private final String label;
    private int shown = -1;

    ProgressBar(PrintStream err, String label) {
        this.err = err;
        this.label = label;
    }

    @Override
    public void update(int tensor, int tensors, long done, long total) {
        int percent = total == 0 ? 100 : (int) (100 * done / total);
        if (percent == shown && tensor < tensors) return; // redraw only when the figure moves
        shown = percent;
        int filled = percent * WIDTH / 100;
        err.printf("\r%s [%s%s] %d/%d tensors, %s / %s", label, "#".repeat(filled), ".".repeat(WIDTH - filled),
                tensor, tensors, size(done), size(total));
        if (tensor == tensors) err.println();
        err.flush();
    }

    static String size(long bytes) {
        if (bytes >= 1L << 30) return String.format("%.2f GiB", bytes / (double) (1L << 30));
        return String.format("%.1f MiB", bytes / (double) (1 << 20));
    }
}
