package dev.herd.convert;

/** Conversion progress for a progress bar: tensors finished of the count, and output bytes written of the total. */
@FunctionalInterface
public interface Progress {
    Progress NONE = (tensor, tensors, done, total) -> {};

    void update(int tensor, int tensors, long bytesDone, long bytesTotal);

    default Tracker tracker(int tensors, long total) {
        return new Tracker(this, tensors, total);
    }

    /** Counts bytes as they are written and reports at most every 16 MiB, and after every tensor. */
    final class Tracker {
        private static final long STEP = 16 << 20;
        private final Progress progress;
        private final int tensors;
        private final long total;
        private int tensor;
        private long done, reported;

        Tracker(Progress progress, int tensors, long total) {
            this.progress = progress;
            this.tensors = tensors;
            this.total = total;
        }

        void add(long bytes) {
            done += bytes;
            if (done - reported >= STEP) report();
        }

        void tensorDone() {
            tensor++;
            report();
        }

        private void report() {
            reported = done;
            progress.update(tensor, tensors, done, total);
        }
    }
}
