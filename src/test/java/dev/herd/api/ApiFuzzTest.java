package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Mutated and slowly sent requests (fixed seed) against a real server: every answer is JSON unless it is a success of
 * another type, none is a 5xx, the server keeps serving and holds no more descriptors after than before.
 */
class ApiFuzzTest {
    static final long SEED = 10;
    static final int CASES = 4000, AT_ONCE = 12;
    static final String BODY = "{\"prompt\":\"Once\",\"max_tokens\":2,\"temperature\":0}";
    static final String CHAT = "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2,\"stream\":true}";
    static final List<String> TEMPLATES = List.of(
            "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n",
            "GET /v1/models HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n",
            "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: " + BODY.length() + "\r\n\r\n" + BODY,
            "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + Integer.toHexString(20) + "\r\n" + CHAT.substring(0, 20) + "\r\n" + Integer.toHexString(CHAT.length() - 20) + "\r\n"
                    + CHAT.substring(20) + "\r\n0\r\nX-T: 1\r\n\r\n",
            "POST /v1/completions HTTP/1.0\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " + BODY.length() + "\r\n\r\n" + BODY,
            "GET / HTTP/1.1\r\nHost: localhost\r\n\r\nGET /app.js HTTP/1.1\r\nHost: localhost\r\n\r\n",
            "OPTIONS /v1/chat/completions HTTP/1.1\r\nOrigin: http://x\r\nAccess-Control-Request-Method: POST\r\n\r\n");
    static final Set<String> SUCCESS_TYPES = Set.of("application/json", "text/event-stream; charset=utf-8", "text/html; charset=utf-8",
            "text/javascript; charset=utf-8", "text/css; charset=utf-8", "text/plain; version=0.0.4; charset=utf-8");

    @Test
    void hostileRequestsGetJsonAnswersAndTheServerKeepsServing() throws Exception {
        try (TestApi api = new TestApi(null, 16, 0)) {
            long before = ApiHttpTest.fds();
            Map<String, AtomicLong> outcomes = new ConcurrentHashMap<>();
            List<Future<?>> cases = new ArrayList<>();
            try (ExecutorService pool = Executors.newFixedThreadPool(AT_ONCE)) {
                Random seeds = new Random(SEED);
                for (int i = 0; i < CASES; i++) {
                    long seed = seeds.nextLong();
                    cases.add(pool.submit(() -> {
                        for (String o : run(api.server.port(), new Random(seed))) outcomes.computeIfAbsent(o, k -> new AtomicLong()).incrementAndGet();
                        return null;
                    }));
                }
                for (Future<?> f : cases) f.get();
            }
            System.out.println("api fuzz: " + CASES + " cases, seed " + SEED + ", outcomes " + new TreeMap<>(outcomes));
            assertThat(outcomes.keySet()).allMatch(o -> !o.startsWith("5"));
            assertThat(ApiHttpTest.send(api.server.port(), "GET /health HTTP/1.1\r\n\r\n").status()).isEqualTo(200);
            assertThat(api.ok("/v1/completions", BODY).at("/usage/completion_tokens").asInt()).isEqualTo(2);
            long deadline = System.nanoTime() + 10_000_000_000L; // the server's ends close after their linger
            while (ApiHttpTest.fds() > before + 16 && System.nanoTime() < deadline) Thread.sleep(100);
            assertThat(ApiHttpTest.fds()).isLessThanOrEqualTo(before + 16);
        }
    }

    /** One mutated request, sent whole or in slow pieces; returns the statuses of its answers ("closed" for none). */
    static List<String> run(int port, Random r) throws IOException {
        byte[] request = mutate(TEMPLATES.get(r.nextInt(TEMPLATES.size())).getBytes(StandardCharsets.ISO_8859_1), r);
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            boolean slow = r.nextInt(5) == 0;
            for (int at = 0; at < request.length; ) {
                int n = slow ? 1 + r.nextInt(Math.max(1, request.length / 4)) : request.length;
                out.write(request, at, Math.min(n, request.length - at));
                out.flush();
                at += n;
                if (slow) sleep(r.nextInt(20));
            }
            if (r.nextInt(20) == 0) return List.of("left"); // a client that goes away without reading
            s.shutdownOutput();
            InputStream in = s.getInputStream();
            try {
                return answers(in, request);
            } catch (RuntimeException e) { // an answer that is not HTTP
                throw new AssertionError(e + " answering " + new String(request, StandardCharsets.ISO_8859_1).replace("\r", "\\r").replace("\n", "\\n"), e);
            }
        }
    }

    /** Reads the answers until the server closes; checks each. */
    static List<String> answers(InputStream in, byte[] request) throws IOException {
        List<String> statuses = new ArrayList<>();
        while (true) {
            TestApi.Raw head;
            try {
                head = TestApi.head(in);
            } catch (EOFException e) {
                if (statuses.isEmpty()) statuses.add("closed");
                return statuses;
            }
            if (head.status() == 100) continue; // after an Expect: 100-continue
            TestApi.Raw answer = head.headers().containsKey("content-length") || head.headers().containsKey("transfer-encoding")
                    || head.status() == 204 ? TestApi.body(in, head) // else HTTP/1.0's body, ended by the end of the connection
                    : new TestApi.Raw(head.status(), head.headers(), new String(in.readAllBytes(), StandardCharsets.UTF_8), true);
            check(answer, new String(request, StandardCharsets.ISO_8859_1));
            statuses.add(String.valueOf(answer.status()));
        }
    }

    static void check(TestApi.Raw a, String request) {
        String type = a.headers().get("content-type");
        String what = a.status() + " " + type + " " + a.body() + " for " + request;
        if (a.status() == 204) return;
        assertThat(a.complete()).as(what).isTrue();
        if (a.status() >= 400) {
            assertThat(type).as(what).isEqualTo("application/json");
            JsonNode error = TestApi.json(a.body()).get("error");
            assertThat(error.get("message").asText()).as(what).isNotBlank().doesNotContain("Exception", "java.");
        } else {
            assertThat(type).as(what).isIn(SUCCESS_TYPES);
        }
    }

    static byte[] mutate(byte[] b, Random r) {
        int n = 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
            int at = r.nextInt(b.length), len = Math.min(b.length - at, 1 + r.nextInt(8));
            b = switch (r.nextInt(8)) {
                case 0 -> { // flip a byte
                    b[at] ^= (byte) (1 << r.nextInt(8));
                    yield b;
                }
                case 1 -> concat(Arrays.copyOf(b, at), Arrays.copyOfRange(b, at + len, b.length)); // drop bytes
                case 2 -> concat(Arrays.copyOf(b, at), random(r, 1 + r.nextInt(16)), Arrays.copyOfRange(b, at, b.length)); // insert noise
                case 3 -> Arrays.copyOf(b, at); // cut short
                case 4 -> concat(Arrays.copyOf(b, at + len), Arrays.copyOfRange(b, at, b.length)); // repeat a piece
                case 5 -> new String(b, StandardCharsets.ISO_8859_1).replaceFirst("\r\n", "\n").getBytes(StandardCharsets.ISO_8859_1);
                case 6 -> replaceNumber(b, r);
                default -> concat(Arrays.copyOf(b, at), ("\r\nX-" + r.nextInt(1000) + ": " + "v".repeat(r.nextInt(100)) + "\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1), Arrays.copyOfRange(b, at, b.length)); // a header where it may not fit
            };
            if (b.length == 0) b = new byte[]{'\r', '\n'};
        }
        return b;
    }

    /** A Content-Length, chunk size or max_tokens made absurd, negative or huge. */
    static byte[] replaceNumber(byte[] b, Random r) {
        String s = new String(b, StandardCharsets.ISO_8859_1);
        String[] numbers = {"-1", "0", "99999999999999999999", "4c4b400", "ffffffff", "2147483648", "1e9", "300"};
        return s.replaceFirst("(?<=: |\n|\"max_tokens\":)[0-9a-f]+(?=\r|,)", numbers[r.nextInt(numbers.length)]).getBytes(StandardCharsets.ISO_8859_1);
    }

    static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
