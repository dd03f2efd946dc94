package dev.herd.api;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Idle and slow clients (slowloris) against the default limits: 256 connections, a 10 s head deadline. */
class ApiLimitsTest {
    static final int CAP = 256;
    static TestApi api;

    @BeforeAll
    static void start() {
        api = new TestApi(null, 16, 0);
    }

    @AfterAll
    static void stop() {
        api.close();
    }

    @Test
    void idleAndSlowClientsGetTheCapThenA503AndAreDroppedAtTheDeadline() throws Exception {
        long before = ApiHttpTest.fds();
        List<Socket> held = new ArrayList<>();
        try {
            for (int i = 0; i < CAP; i++) {
                Socket s = new Socket("127.0.0.1", api.server.port());
                s.setSoTimeout(60_000);
                if (i % 2 == 1) s.getOutputStream().write("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\n".getBytes(StandardCharsets.US_ASCII));
                held.add(s);
            }
            List<Socket> more = new ArrayList<>();
            for (int i = 0; i < 50; i++) more.add(new Socket("127.0.0.1", api.server.port())); // past the cap, saying nothing
            TestApi.Raw full = ApiHttpTest.send(api.server.port(), "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
            ApiHttpTest.assertJsonError(full, 503);
            assertThat(TestApi.json(full.body()).at("/error/code").asText()).isEqualTo("too_many_connections");
            for (Socket s : more) {
                s.setSoTimeout(30_000);
                InputStream in = s.getInputStream();
                assertThat(TestApi.head(in).status()).isEqualTo(503);
                assertThat(in.readAllBytes().length).isPositive(); // the JSON body, then the end
                s.close();
            }
            // what this process holds: the clients' ends, and the server's ends up to the cap (plus a few spare)
            assertThat(ApiHttpTest.fds() - before - held.size()).isLessThanOrEqualTo(CAP + HttpFront.REJECTING + 16);

            // the deadline: the slow ones get a 408, the idle ones are closed silently, and the server answers again
            for (int i = 0; i < held.size(); i++) {
                InputStream in = held.get(i).getInputStream();
                if (i % 2 == 1) ApiHttpTest.assertJsonError(TestApi.body(in, TestApi.head(in)), 408);
                else assertThat(in.read()).isEqualTo(-1);
            }
            assertThat(ApiHttpTest.send(api.server.port(), "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n").status()).isEqualTo(200);
        } finally {
            for (Socket s : held) s.close();
        }
    }

    @Test
    void aClientTricklingItsHeadIsCutAtTheDeadlineNotKeptAlive() throws Exception {
        try (Socket s = new Socket("127.0.0.1", api.server.port())) {
            s.setSoTimeout(60_000);
            long start = System.nanoTime();
            String head = "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + "a".repeat(100);
            TestApi.Raw r = null;
            try {
                for (char c : head.toCharArray()) { // a byte every 200 ms: 20 s in all, twice the deadline
                    s.getOutputStream().write(c);
                    Thread.sleep(200);
                }
            } catch (IOException closed) {
                // the server closed the connection at the deadline
            }
            InputStream in = s.getInputStream();
            r = TestApi.body(in, TestApi.head(in));
            ApiHttpTest.assertJsonError(r, 408);
            assertThat((System.nanoTime() - start) / 1e9).as("cut at the 10 s deadline, not when the head ended").isLessThan(19);
        }
    }
}
