package dev.herd.kernel;

import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Thread CPU time per matmul call, for a loaded machine where wall time and JMH throughput are noise: kernels of the
 * given file types (suffix {@code :generic} for the type left in the file's layout) on ROWS x COLS random weights,
 * four copies streamed in turn, 1 thread, alternating in windows of CALLS calls; prints min and median per call,
 * and the bytes allocated per call in the last window (0 once C2 has compiled the kernel well).
 * {@code java -cp target/classes:target/test-classes dev.herd.kernel.KernelCpuTime ROWS COLS BATCH WINDOWS CALLS TYPE...}
 */
public final class KernelCpuTime {
    public static void main(String[] args) {
        int rows = Integer.parseInt(args[0]), cols = Integer.parseInt(args[1]), batch = Integer.parseInt(args[2]);
        int windows = Integer.parseInt(args[3]), calls = Integer.parseInt(args[4]);
        List<String> names = Arrays.asList(args).subList(5, args.length);
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Arena arena = Arena.ofShared()) {
            List<Tensor[]> weights = new ArrayList<>();
            List<Activations> inputs = new ArrayList<>();
            for (String name : names) {
                GgmlType type = GgmlType.valueOf(name.replace(":generic", ""));
                Tensor[] copies = new Tensor[4];
                for (int c = 0; c < 4; c++) {
                    Tensor w = Weights.random(type, rows, cols, c, arena);
                    copies[c] = name.endsWith(":generic") ? w : Kernels.prepare(w, arena);
                }
                Activations x = new Activations(cols, batch);
                x.batch(batch);
                x.readBy(copies[0]);
                Weights.fill(x, 1);
                x.quantize();
                weights.add(copies);
                inputs.add(x);
            }
            float[] out = new float[rows * batch];
            double[][] perCall = new double[names.size()][windows];
            long[] allocated = new long[names.size()];
            for (int round = -3; round < windows; round++) { // three rounds to compile
                for (int k = 0; k < names.size(); k++) {
                    Tensor[] copies = weights.get(k);
                    Kernel kernel = Kernels.of(copies[0].type());
                    long t0 = threads.getCurrentThreadCpuTime(), a0 = threads.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < calls; i++) kernel.matmul(copies[i % 4], inputs.get(k), out, 0, rows, 0, rows);
                    if (round >= 0) perCall[k][round] = (threads.getCurrentThreadCpuTime() - t0) / 1e6 / calls;
                    allocated[k] = (threads.getCurrentThreadAllocatedBytes() - a0) / calls; // the last window's
                }
            }
            for (int k = 0; k < names.size(); k++) {
                double[] t = perCall[k].clone();
                Arrays.sort(t);
                System.out.printf("%d bits %s batch %d: min %.3f ms, median %.3f ms, %d bytes allocated per call%n", VectorWidth.BITS, names.get(k), batch, t[0], t[windows / 2], allocated[k]);
            }
        }
    }
}
