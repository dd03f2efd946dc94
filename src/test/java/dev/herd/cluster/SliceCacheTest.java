package dev.herd.cluster;

import dev.herd.Stories15M;
import dev.herd.format.GgufFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Issue 13, item 4: a worker keeps the slices it received in its slice cache, keyed by the model's tensor table and
 * the plan, and the root streams only the slices whose bytes the worker does not hold (compared by SHA-256). Each run
 * starts new {@link Worker}s on the same folders: a restarted worker.
 */
class SliceCacheTest {
    static final int STEPS = 24;
    static final long PLENTY = 1L << 40;

    @TempDir
    static Path models;
    static Path stories;
    static int[] alone;

    @TempDir
    Path dir;

    @BeforeAll
    static void model() throws IOException {
        stories = Stories15M.f32(models); // splits on 2 and 3 nodes
        alone = run(stories, List.of()).tokens;
    }

    /** What a run gave: its tokens, the weight bytes streamed and found cached, and the workers' log. */
    record Result(int[] tokens, long streamed, long reused, long sent, String log) {}

    /** Greedy tokens of {@code model} on this root and one new worker per folder (null: no slice cache), at most {@code max} bytes each. */
    static Result run(Path model, List<Path> caches, long max) throws IOException {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(log, true, StandardCharsets.UTF_8);
        List<Worker> workers = new ArrayList<>();
        try {
            for (Path cache : caches) {
                Worker w = new Worker("127.0.0.1", 0, 1, null, models.resolve("kv"), cache, max, out);
                workers.add(w);
                Thread.ofPlatform().daemon().start(w::serve);
            }
            List<String> addresses = workers.stream().map(w -> "127.0.0.1:" + w.port()).toList();
            try (LocalCluster.Run run = new LocalCluster.Run(model, addresses, null, SyncCodec.F32, 64)) {
                int[] tokens = run.greedy(new int[]{1}, STEPS);
                Stats s = run.cluster == null ? null : run.cluster.stats();
                return s == null ? new Result(tokens, 0, 0, 0, "")
                        : new Result(tokens, s.streamed(), s.reused(), s.sent(), log.toString(StandardCharsets.UTF_8));
            }
        } finally {
            for (Worker w : workers) w.close();
        }
    }

    static Result run(Path model, List<Path> caches) throws IOException {
        return run(model, caches, PLENTY);
    }

    /** The slice files in a cache folder, largest first. */
    static List<Path> slices(Path cache) throws IOException {
        try (Stream<Path> files = Files.walk(cache)) {
            return files.filter(Files::isRegularFile).sorted(Comparator.comparingLong(SliceCacheTest::size).reversed()).toList();
        }
    }

    static List<String> entries(Path cache) throws IOException {
        try (Stream<Path> entries = Files.list(cache)) {
            return entries.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    static long size(Path f) {
        try {
            return Files.size(f);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aRestartedWorkerGetsNoSliceBytesAndGivesTheSameTokens() throws IOException {
        Path a = dir.resolve("a/slices"), b = dir.resolve("b/slices");
        Result cold = run(stories, List.of(a, b)); // 3 nodes
        assertThat(cold.tokens).containsExactly(alone);
        assertThat(cold.reused).isZero();
        assertThat(cold.streamed).isGreaterThan(20 << 20);
        Result warm = run(stories, List.of(a, b));
        assertThat(warm.tokens).containsExactly(alone);
        assertThat(warm.streamed).as("weight bytes streamed").isZero();
        assertThat(warm.reused).isEqualTo(cold.streamed);
        assertThat(warm.sent).as("all bytes the root sent, weights or not").isLessThan(cold.sent / 50);
        assertThat(warm.log.lines().filter(l -> l.matches("slice cache: (\\d+) of \\1 slices .* read and verified in .*"))).as("both workers").hasSize(2);
    }

    /**
     * Slices whose kernel layout is larger than the file's (Q5_0, Q4_K, Q6_K of ss-q4_k_m.gguf) are cached as the
     * file holds them and repacked after reading, as when streamed.
     */
    @Test
    void aKQuantMixtureIsCachedAsTheFileHoldsIt() throws Exception {
        Path model = Path.of(SliceCacheTest.class.getResource("/models/ss-q4_k_m.gguf").toURI());
        int[] one = run(model, List.of()).tokens;
        List<Path> caches = List.of(dir.resolve("a"), dir.resolve("b")); // 3 nodes
        Result cold = run(model, caches);
        Result warm = run(model, caches);
        assertThat(cold.tokens).containsExactly(one);
        assertThat(warm.tokens).containsExactly(one);
        assertThat(warm.streamed).isZero();
        assertThat(warm.reused).isEqualTo(cold.streamed).isPositive();
    }

    @Test
    void aCorruptedOrTruncatedSliceIsSentAgain() throws IOException {
        Path cache = dir.resolve("slices");
        Result cold = run(stories, List.of(cache));
        List<Path> files = slices(cache);
        Path flipped = files.get(0), cut = files.get(1);
        long expected = size(flipped) + size(cut) - 2 * SliceCache.HASH;
        try (RandomAccessFile f = new RandomAccessFile(flipped.toFile(), "rw")) {
            f.seek(size(flipped) / 2);
            int b = f.read();
            f.seek(size(flipped) / 2);
            f.write(b ^ 0x10);
        }
        try (RandomAccessFile f = new RandomAccessFile(cut.toFile(), "rw")) {
            f.setLength(size(cut) - 1000);
        }
        Result again = run(stories, List.of(cache));
        assertThat(again.tokens).containsExactly(alone);
        assertThat(again.streamed).as("the two damaged slices, sent again").isEqualTo(expected);
        assertThat(again.reused).isEqualTo(cold.streamed - expected);
        assertThat(again.log).contains(flipped + " failed its hash check").contains(cut + " holds ");
        assertThat(run(stories, List.of(cache)).streamed).as("stored again, intact").isZero();
    }

    @Test
    void aModelWithOtherWeightsButTheSameTableGetsItsOwnSlices() throws IOException {
        Path cache = dir.resolve("slices");
        Path changed = negated(stories, "blk.2.ffn_up.weight", dir.resolve("changed.gguf"));
        run(stories, List.of(cache));
        int[] changedAlone = run(changed, List.of()).tokens;
        assertThat(changedAlone).isNotEqualTo(alone);
        Result r = run(changed, List.of(cache));
        assertThat(r.tokens).containsExactly(changedAlone);
        long slice;
        try (GgufFile f = GgufFile.open(stories)) {
            slice = f.tensors().get("blk.2.ffn_up.weight").bytes() / 2; // node 1's half of its rows
        }
        assertThat(r.streamed).as("only the slice whose bytes changed").isEqualTo(slice);
    }

    @Test
    void anotherNodeCountUsesAnotherEntryAndBothAreKept() throws IOException {
        Path cache = dir.resolve("slices"), other = dir.resolve("other");
        Result two = run(stories, List.of(cache));
        Result three = run(stories, List.of(cache, other));
        assertThat(three.tokens).containsExactly(alone);
        assertThat(three.reused).as("node 1 of 3 holds other slices than node 1 of 2").isZero();
        assertThat(entries(cache)).hasSize(2).allMatch(e -> e.matches("[0-9a-f]{64}"));
        Result twoAgain = run(stories, List.of(cache));
        assertThat(twoAgain.streamed).isZero();
        assertThat(twoAgain.reused).isEqualTo(two.streamed);
    }

    @Test
    void theLeastRecentlyUsedEntryIsEvictedToStayUnderTheMaximum() throws IOException {
        Path cache = dir.resolve("slices"), other = dir.resolve("other/slices");
        run(stories, List.of(cache));
        long two = slices(cache).stream().mapToLong(SliceCacheTest::size).sum();
        long max = two + two / 5; // one entry of either plan fits, not both
        List<String> first = entries(cache);
        Result three = run(stories, List.of(cache, other), max);
        assertThat(three.tokens).containsExactly(alone);
        assertThat(entries(cache)).hasSize(1).doesNotContainAnyElementsOf(first);
        assertThat(slices(cache).stream().mapToLong(SliceCacheTest::size).sum()).isLessThanOrEqualTo(max);
        assertThat(three.log).contains("slice cache: evicted " + first.getFirst());
        Result twoAgain = run(stories, List.of(cache), max);
        assertThat(twoAgain.reused).isZero();
        assertThat(entries(cache)).containsExactlyElementsOf(first);
        Result tooSmall = run(stories, List.of(dir.resolve("small/slices")), two / 2);
        assertThat(tooSmall.tokens).containsExactly(alone);
        assertThat(tooSmall.log).contains("exceed the cache's maximum");
        assertThat(entries(dir.resolve("small/slices"))).isEmpty();
    }

    /**
     * A root names nothing in the cache: a hostile one (no cluster key here) sends a fingerprint and worker addresses
     * that look like paths and chunks for slices outside the plan; all the worker writes is one entry named by the
     * hex of its own key, holding files named by slice numbers.
     */
    @Test
    void aHostileRootCannotChooseWhereTheWorkerReadsOrWrites() throws Exception {
        Path cache = dir.resolve("box/slices");
        Files.createDirectories(dir.resolve("box"));
        Files.writeString(dir.resolve("box/secret"), "not a slice");
        var c = WorkerSecurityTest.config(64, 128, 2, 4, 2, 16, 256, 256);
        var parts = SplitPlan.of(c, 1, 2).parts(c, 1, false);
        byte[] fingerprint = "../../secret/../../../../etc/passwd\0/".getBytes(StandardCharsets.UTF_8);
        PlanMessage plan = new PlanMessage(c, 1, 2, List.of(1, 1), 1, 64, SyncCodec.F32, dev.herd.tensor.GgmlType.F32, false,
                WorkerSecurityTest.plan(c, 64, false).types(), false, false, List.of("../../../escape"), new byte[32]);
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (Worker worker = new Worker("127.0.0.1", 0, 1, null, dir.resolve("kv"), cache, PLENTY, new PrintStream(log, true))) {
            Thread.ofPlatform().daemon().start(worker::serve);
            for (int round = 0; round < 2; round++) {
                try (Wire w = new Wire(new java.net.Socket("127.0.0.1", worker.port()), "worker")) {
                    w.timeout(15_000);
                    Handshake.asRoot(w, fingerprint, 1, 2, null, false);
                    w.send(plan.encode());
                    byte[][] have = Cluster.have(w.expect(Message.HAVE, 1 << 16), parts.size());
                    assertThat(Arrays.stream(have).filter(h -> h != null).count()).isEqualTo(round == 0 ? 0 : parts.size());
                    if (round == 0) {
                        for (int i = 0; i < parts.size(); i++) {
                            w.send(new Message.Builder(Message.WEIGHTS).i32(i).i64(0).raw(MemorySegment.ofArray(new byte[(int) parts.get(i).bytes(dev.herd.tensor.GgmlType.F32)])).build());
                        }
                    }
                    w.send(new Message.Builder(Message.WEIGHTS).i32(round == 0 ? -1 : parts.size()).i64(0).raw(MemorySegment.ofArray(new byte[8])).build());
                    assertThatThrownBy(() -> w.receive(1 << 16)).hasMessageContaining("connection closed");
                }
                for (int i = 0; i < 100 && !log.toString().contains("outside the plan"); i++) Thread.sleep(50);
                assertThat(log.toString()).contains("weights chunk outside the plan");
                log.reset();
            }
        }
        String entry = HexFormat.of().formatHex(plan.sliceKey(fingerprint));
        try (Stream<Path> all = Files.walk(dir.resolve("box"))) {
            assertThat(all.map(p -> dir.resolve("box").relativize(p).toString()).filter(p -> !p.isEmpty()).sorted().toList())
                    .as("everything under the cache's parent").allMatch(p -> p.equals("secret") || p.equals("slices")
                            || p.equals("slices/" + entry) || p.matches("slices/" + entry + "/[0-9]+\\.slice"))
                    .hasSize(3 + parts.size());
        }
        assertThat(Files.readString(dir.resolve("box/secret"))).isEqualTo("not a slice");
    }

    /** A worker's HAVE is checked like any other message: counts, slice numbers and hash lengths within the plan. */
    @Test
    void aHostileWorkersHaveIsAProtocolError() {
        byte[] hash = new byte[SliceCache.HASH];
        assertThat(Cluster.have(new Message.Builder(Message.HAVE).i32(1).i32(2).bytes(hash).build(), 3)[2]).isEqualTo(hash);
        for (Message bad : List.of(new Message.Builder(Message.HAVE).i32(4).build(),
                new Message.Builder(Message.HAVE).i32(-1).build(),
                new Message.Builder(Message.HAVE).i32(1).i32(3).bytes(hash).build(),
                new Message.Builder(Message.HAVE).i32(1).i32(-1).bytes(hash).build(),
                new Message.Builder(Message.HAVE).i32(2).i32(0).bytes(hash).i32(0).bytes(hash).build(),
                new Message.Builder(Message.HAVE).i32(1).i32(0).bytes(new byte[31]).build(),
                new Message.Builder(Message.HAVE).i32(1).i32(0).bytes(new byte[1000]).build(),
                new Message.Builder(Message.HAVE).i32(2).i32(0).bytes(hash).build())) {
            assertThatThrownBy(() -> Cluster.have(bad, 3)).isInstanceOf(Wire.ProtocolException.class);
        }
    }

    /** A copy of {@code model} with every value of one F32 tensor negated: the same tensor table, other weights. */
    static Path negated(Path model, String tensor, Path out) throws IOException {
        byte[] bytes = Files.readAllBytes(model);
        long at;
        int n;
        try (GgufFile f = GgufFile.open(model)) {
            MemorySegment data = f.bytes(tensor);
            n = (int) data.byteSize();
            at = indexOf(bytes, data.asSlice(0, 256).toArray(ValueLayout.JAVA_BYTE));
        }
        for (int i = 3; i < n; i += 4) bytes[(int) at + i] ^= (byte) 0x80; // the sign bit of each little-endian float
        Files.write(out, bytes);
        return out;
    }

    private static long indexOf(byte[] haystack, byte[] needle) {
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) return i;
        }
        throw new IllegalStateException("tensor bytes not found in the file");
    }
}
