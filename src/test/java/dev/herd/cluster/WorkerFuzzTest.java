package dev.herd.cluster;

import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Hostile byte streams on a worker's port, with a fixed seed: random bytes, mutated handshakes and mesh knocks, huge
 * or negative lengths, junk after a real handshake (keyed: unsealed frames; keyless: mutated plans and stray
 * messages). Every connection must be closed by the worker within its deadline, every log line must be a clean reason
 * (no exception class), and afterwards a real root gets the same tokens as before.
 */
class WorkerFuzzTest {
    static final int CASES = 3000;
    static final byte[] KEY = "fuzz-key".getBytes();
    /** What the worker's log lines say, to count the ways the cases ended (the test prints the counts). */
    static final List<String> REASONS = List.of("broke Herd's protocol", "failed authentication", "negative length", "exceeds the limit",
            "bad greeting", "cluster key", "connection closed", "not a Herd", "no session is under way", "the root ended the session",
            "the root's plan has an invalid", "loaded", "deadline");

    @TempDir
    Path dir;

    @Test
    void hostileStreamsLeaveTheWorkerServingTheSameTokens() throws Exception {
        Path model = dir.resolve("tiny.gguf");
        RandomModel.write(new ModelConfig(Arch.LLAMA, 64, 128, 2, 4, 2, 16, 256, 256, 1e-5f, 10000, null, false),
                GgmlType.F32, model, 9, Map.of(), Progress.NONE);
        try (LocalCluster keyed = new LocalCluster(1, KEY); LocalCluster open = new LocalCluster(1, null)) {
            int[] before = tokens(model, keyed, KEY);
            assertThat(tokens(model, open, null)).containsExactly(before);
            byte[] plan = planBytes(model, open);
            long rssBefore = rss();
            SplittableRandom random = new SplittableRandom(20261207);
            Map<String, Integer> outcomes = new TreeMap<>();
            long start = System.nanoTime();
            for (int i = 0; i < CASES; i++) {
                int kind = random.nextInt(6);
                LocalCluster target = kind == 5 ? open : kind == 4 ? keyed : random.nextBoolean() ? keyed : open;
                outcomes.merge(attack(kind, target.workers.getFirst().port(), plan, random), 1, Integer::sum);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            long rssAfter = rss();
            System.out.printf("worker fuzz: %d cases in %.1f s, outcomes %s, test JVM RSS %d -> %d MiB%n", CASES, seconds, outcomes,
                    rssBefore >> 20, rssAfter >> 20);
            assertThat(outcomes).as("every connection ends, closed by the worker").containsOnlyKeys("closed by the worker");
            assertThat(tokens(model, keyed, KEY)).containsExactly(before);
            assertThat(tokens(model, open, null)).containsExactly(before);
            Map<String, Long> reasons = new TreeMap<>();
            for (String line : (keyed.log() + open.log()).lines().toList()) {
                for (String reason : REASONS) if (line.contains(reason)) reasons.merge(reason, 1L, Long::sum);
            }
            System.out.println("worker fuzz: log lines by reason " + reasons);
            for (String line : (keyed.log() + open.log()).lines().toList()) {
                assertThat(line).as("a clean reason").doesNotContain("java.").doesNotContain("Exception").doesNotContain("failed: ")
                        .hasSizeLessThan(400);
            }
            assertThat(rssAfter - rssBefore).as("RSS growth").isLessThan(1L << 30);
        }
    }

    private static int[] tokens(Path model, LocalCluster cluster, byte[] key) {
        try (LocalCluster.Run run = new LocalCluster.Run(model, cluster.addresses(), key, SyncCodec.F32, 64)) {
            return run.greedy(new int[]{1}, 12);
        }
    }

    /** A real plan for the keyless worker, as its root sends it (the payload only). */
    private static byte[] planBytes(Path model, LocalCluster open) {
        var file = dev.herd.format.GgufFile.open(model);
        try (file) {
            var c = dev.herd.format.GgufConfig.read(file);
            List<GgmlType> types = SplitPlan.of(c, 1, 2).parts(c, 1, false).stream().map(p -> GgmlType.F32).toList();
            Message m = new PlanMessage(c, 1, 2, List.of(1, 1), 1, 64, SyncCodec.F32, GgmlType.F32, false, types, false, true, open.addresses(), Handshake.nonce()).encode();
            return Arrays.copyOf(m.payload(), m.length());
        }
    }

    /** One hostile connection; returns how it ended. */
    private static String attack(int kind, int port, byte[] plan, SplittableRandom random) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            try {
                switch (kind) {
                    case 0 -> out.write(bytes(random, random.nextInt(4097)));
                    case 1 -> out.write(mutate(frame(Message.HELLO, hello(random)), random));
                    case 2 -> out.write(header(random));
                    case 3 -> out.write(mutate(frame(Message.PEER, Handshake.peer(Handshake.nonce(), random.nextInt(5), random.nextInt(5),
                            random.nextBoolean() ? KEY : null).payload()), random));
                    case 4 -> { // the real key, then frames no key holder sealed
                        Wire w = new Wire(s, "worker");
                        Handshake.asRoot(w, new byte[32], 1, 2, KEY, false);
                        out.write(random.nextBoolean() ? frame(Message.PLAN, plan) : bytes(random, random.nextInt(2048)));
                    }
                    default -> { // keyless: a handshake, then mutated plans and stray messages
                        Wire w = new Wire(s, "worker");
                        Handshake.asRoot(w, new byte[32], 1, 2, null, false);
                        out.write(random.nextBoolean() ? mutate(frame(Message.PLAN, plan), random)
                                : frame(1 + random.nextInt(16), bytes(random, random.nextInt(64))));
                    }
                }
                out.flush();
                s.shutdownOutput();
            } catch (IOException | dev.herd.HerdException e) {
                // the worker may close before everything is written
            }
            String outcome = drain(s.getInputStream());
            return outcome.startsWith("closed") ? outcome : outcome + " (attack " + kind + ")";
        }
    }

    private static String drain(InputStream in) throws IOException {
        try {
            while (in.read(new byte[4096]) >= 0) {
                // the worker's ERROR frames, if any
            }
            return "closed by the worker";
        } catch (SocketTimeoutException e) {
            return "still open after 10 s";
        } catch (IOException e) {
            return "closed by the worker"; // reset
        }
    }

    private static byte[] hello(SplittableRandom random) {
        return new Message.Builder(Message.HELLO).i32(Handshake.MAGIC).i32(Handshake.PROTOCOL).string("0.1")
                .bytes(new byte[32]).i32(1).i32(2).bytes(Handshake.nonce()).i32(random.nextInt(2)).i32(0).build().payload();
    }

    private static byte[] frame(int type, byte[] payload) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(b);
        d.writeInt(payload.length + 1);
        d.writeByte(type);
        d.write(payload);
        return b.toByteArray();
    }

    /** A frame header with an extreme or random length, and a few bytes of body. */
    private static byte[] header(SplittableRandom random) throws IOException {
        int[] lengths = {0, -1, Integer.MIN_VALUE, Integer.MAX_VALUE, 1, 2, Wire.MAX_FRAME + 1, random.nextInt()};
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(b);
        d.writeInt(lengths[random.nextInt(lengths.length)]);
        d.writeByte(random.nextInt(256));
        d.write(bytes(random, random.nextInt(64)));
        return b.toByteArray();
    }

    /** Flips, overwrites with extreme ints, truncates or extends. */
    private static byte[] mutate(byte[] b, SplittableRandom random) {
        byte[] m = b.clone();
        int edits = 1 + random.nextInt(6);
        for (int e = 0; e < edits; e++) {
            switch (random.nextInt(4)) {
                case 0 -> m[random.nextInt(m.length)] ^= (byte) (1 << random.nextInt(8));
                case 1 -> {
                    int at = random.nextInt(Math.max(1, m.length - 4));
                    int v = new int[]{-1, Integer.MIN_VALUE, Integer.MAX_VALUE, 0, 1 << 30}[random.nextInt(5)];
                    for (int k = 0; k < 4 && at + k < m.length; k++) m[at + k] = (byte) (v >>> (8 * k));
                }
                case 2 -> m = Arrays.copyOf(m, random.nextInt(m.length + 1));
                default -> m = concat(m, bytes(random, random.nextInt(32)));
            }
            if (m.length == 0) return m;
        }
        return m;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static byte[] bytes(SplittableRandom random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    /** This JVM's resident set (the workers run in it), from /proc. */
    private static long rss() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", "")) * 1024).findFirst().orElseThrow();
    }
}
