package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The HTTP layer against hostile and broken clients, through raw sockets: every answer JSON, client faults 4xx. */
class ApiHttpTest {
    static TestApi api;

    @BeforeAll
    static void start() {
        api = new TestApi(null, 16, 0);
    }

    @AfterAll
    static void stop() {
        api.close();
    }

    /** Sends the bytes, ends the output (the client has said all) and reads the answer. */
    static TestApi.Raw send(String request) throws IOException {
        return send(api.server.port(), request);
    }

    static TestApi.Raw send(int port, String request) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            s.shutdownOutput();
            InputStream in = s.getInputStream();
            return TestApi.body(in, TestApi.head(in));
        }
    }

    static void assertJsonError(TestApi.Raw r, int status) {
        assertThat(r.status()).as(r.body()).isEqualTo(status);
        assertThat(r.headers().get("content-type")).isEqualTo("application/json");
        JsonNode error = TestApi.json(r.body()).get("error");
        assertThat(error.get("message").asText()).isNotBlank().doesNotContain("Exception", "java.", "internal error");
    }

    static final String POST = "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n";
    static final String BODY = "{\"prompt\":\"Hi\",\"max_tokens\":1}";

    @Test
    void aBodyShorterThanItsContentLengthIs400() throws IOException {
        TestApi.Raw r = send(POST + "Content-Length: 100\r\n\r\n{\"prompt\"");
        assertJsonError(r, 400);
        assertThat(TestApi.json(r.body()).at("/error/message").asText()).contains("9 of its 100 bytes");
    }

    @Test
    void anAbsurdChunkSizeIs4xx() throws IOException {
        TestApi.Raw r = send(POST + "Transfer-Encoding: chunked\r\n\r\n" + Integer.toHexString(80_000_000) + "\r\n" + BODY);
        assertJsonError(r, 400);
        assertThat(TestApi.json(r.body()).at("/error/message").asText()).contains("chunked body ended early");
    }

    @Test
    void aChunkedBodyWithATrailerIsServed() throws IOException {
        String chunks = Integer.toHexString(10) + ";ext=1\r\n" + BODY.substring(0, 10) + "\r\n" + Integer.toHexString(BODY.length() - 10) + "\r\n"
                + BODY.substring(10) + "\r\n0\r\nX-Checksum: 1\r\n\r\n";
        TestApi.Raw r = send(POST + "Transfer-Encoding: chunked\r\n\r\n" + chunks);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(TestApi.json(r.body()).at("/usage/completion_tokens").asInt()).isEqualTo(1);
    }

    @Test
    void aBodyInManySmallChunksIsServed() throws IOException {
        StringBuilder chunks = new StringBuilder();
        for (char c : (BODY + " ".repeat(12_000)).toCharArray()) chunks.append("1\r\n").append(c).append("\r\n"); // 60 KB of framing
        TestApi.Raw r = send(POST + "Transfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            no version           | GET /health\\r\\n\\r\\n                                                   | 400
            HTTP/2.0             | GET /health HTTP/2.0\\r\\nHost: x\\r\\n\\r\\n                              | 400
            garbage              | \\u0001\\u0002 hello\\r\\n\\r\\n                                            | 400
            absolute target      | GET http://x/health HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n                      | 400
            header without colon | GET /health HTTP/1.1\\r\\nHost x\\r\\n\\r\\n                                 | 400
            folded header        | GET /health HTTP/1.1\\r\\nHost: x\\r\\n  folded\\r\\n\\r\\n                  | 400
            control character    | GET /health HTTP/1.1\\r\\nHost: x\\u0001y\\r\\n\\r\\n                        | 400
            bad Content-Length   | POST /v1/completions HTTP/1.1\\r\\nContent-Length: -5\\r\\n\\r\\n            | 400
            two Content-Lengths  | POST /v1/completions HTTP/1.1\\r\\nContent-Length: 1\\r\\nContent-Length: 2\\r\\n\\r\\nab | 400
            TE and CL            | POST /v1/completions HTTP/1.1\\r\\nContent-Length: 1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n | 400
            gzip coding          | POST /v1/completions HTTP/1.1\\r\\nTransfer-Encoding: gzip\\r\\n\\r\\n       | 400
            bad chunk size       | POST /v1/completions HTTP/1.1\\r\\nContent-Type: application/json\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nzz\\r\\n | 400
            head cut short       | GET /health HTTP/1.1\\r\\nHost: x                                            | 400
            not JSON             | POST /v1/completions HTTP/1.1\\r\\nContent-Type: text/plain\\r\\nContent-Length: 2\\r\\n\\r\\n{} | 415
            declared too large   | POST /v1/completions HTTP/1.1\\r\\nContent-Type: application/json\\r\\nContent-Length: 99999999\\r\\n\\r\\n{} | 413
            unknown route        | GET /nope HTTP/1.1\\r\\n\\r\\n                                               | 404
            wrong method         | DELETE /health HTTP/1.1\\r\\n\\r\\n                                          | 405
            """)
    void malformedRequestsGetOneJsonError(String name, String request, int status) throws IOException {
        assertJsonError(send(unescape(request)), status);
    }

    @Test
    void tooManyHeadersOrTooLongALineIs431() throws IOException {
        assertJsonError(send("GET /health HTTP/1.1\r\n" + "X-A: 1\r\n".repeat(101) + "\r\n"), 431);
        assertJsonError(send("GET /health?" + "a".repeat(9000) + " HTTP/1.1\r\n\r\n"), 431);
    }

    /**
     * An answer given before the request's body was read (here 415; a 401 for a wrong key likewise) ends the
     * connection and says so. Without "Connection: close" the JDK's HttpClient sent its next request on that
     * connection and met a closed socket ("header parser received no bytes", ApiServerTest, now and then).
     */
    @Test
    void anAnswerBeforeTheBodyIsReadSaysConnectionClose() throws IOException {
        TestApi.Raw r = send("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: "
                + BODY.length() + "\r\n\r\n" + BODY);
        assertThat(r.status()).isEqualTo(415);
        assertThat(r.headers().get("connection")).isEqualTo("close");
    }

    @Test
    void requestsOnOneConnectionAndHttp10() throws IOException {
        try (Socket s = new Socket("127.0.0.1", api.server.port())) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write(("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n" + POST + "Content-Length: " + BODY.length() + "\r\n\r\n" + BODY)
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            assertThat(TestApi.body(in, TestApi.head(in)).status()).isEqualTo(200);
            TestApi.Raw second = TestApi.body(in, TestApi.head(in));
            assertThat(second.status()).isEqualTo(200);
            assertThat(second.complete()).isTrue();
        }
        TestApi.Raw old = send("GET /health HTTP/1.0\r\n\r\n");
        assertThat(old.status()).isEqualTo(200);
        assertThat(old.headers().get("connection")).isEqualTo("close");
    }

    @Test
    void corsIsOffByDefaultAndAPageCannotPostBlindly() throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(api.url("/health")))
                    .header("Origin", "http://evil.example").build(), HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);
            assertThat(health.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
            HttpResponse<String> preflight = http.send(HttpRequest.newBuilder(URI.create(api.url("/v1/chat/completions")))
                    .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).header("Origin", "http://evil.example")
                    .header("Access-Control-Request-Method", "POST").build(), HttpResponse.BodyHandlers.ofString());
            assertThat(preflight.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
            // a cross-origin form or text/plain fetch needs no preflight: it must not reach the model
            HttpResponse<String> simple = http.send(HttpRequest.newBuilder(URI.create(api.url("/v1/completions")))
                    .header("Origin", "http://evil.example").header("Content-Type", "text/plain")
                    .POST(HttpRequest.BodyPublishers.ofString(BODY)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(simple.statusCode()).isEqualTo(415);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"evil.example, 403", "evil.example:80, 403", "localhost.evil.example, 403", "[::2], 403", "localhost, 200",
            "LOCALHOST:9990, 200", "127.0.0.5:1, 200", "[::1]:80, 200", "app.localhost, 200"})
    void onLoopbackOnlyLoopbackHostsAreServed(String host, int status) throws IOException {
        TestApi.Raw r = send("GET /health HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
        if (status == 200) assertThat(r.status()).isEqualTo(200);
        else assertJsonError(r, status); // a page of another name pointed at 127.0.0.1 (DNS rebinding)
    }

    @Test
    void noClientSeesWhatAnotherClientsPromptBegan() throws Exception {
        String secret = "{\"prompt\":\"The secret code is 7 4 1 9\",\"max_tokens\":1,\"temperature\":0}";
        String guess = "{\"prompt\":\"The secret code is 7 4 2\",\"max_tokens\":1,\"temperature\":0}";
        try (HttpClient other = HttpClient.newBuilder().localAddress(InetAddress.getByName("127.0.0.2")).build()) {
            api.ok("/v1/completions", secret);
            HttpResponse<String> r = other.send(HttpRequest.newBuilder(URI.create(api.url("/v1/completions")))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(guess)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(TestApi.json(r.body()).at("/usage/prompt_tokens_details/cached_tokens").asInt()).isZero();
            assertThat(TestApi.json(r.body()).at("/timings/cached_n").asInt()).isZero();
        }
        api.ok("/v1/completions", secret);
        assertThat(api.ok("/v1/completions", guess).at("/usage/prompt_tokens_details/cached_tokens").asInt())
                .as("the same client still reuses its own prefix").isPositive();
    }

    /** Open descriptors of this process (the test's client sockets and the server's). */
    static long fds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    static String unescape(String s) {
        return s.strip().replace("\\r", "\r").replace("\\n", "\n").replace("\\u0001", "\u0001").replace("\\u0002", "\u0002");
    }
}
