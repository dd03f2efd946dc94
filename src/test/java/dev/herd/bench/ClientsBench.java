package dev.herd.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * N streaming clients at once against a running {@code herd api} (continuous batching): each sends one seeded
 * /v1/completions request with {@code stream_options.include_usage} and times its first text and its end. A plain main
 * class with no Herd dependency, run from source by {@code bench/clients.sh}:
 * <pre>java src/test/java/dev/herd/bench/ClientsBench.java --url http://127.0.0.1:9990 --clients 4 [--tokens 64] [--prompt TEXT]</pre>
 * Prints one line: {@code clients=N tokens=T wall_s=W aggregate_tok_s=A decode_tok_s=D ttft_ms_mean=F ttft_ms_max=M
 * stream_tok_s_mean=S}, where the aggregate is every completion token over the wall time of the whole round (prompts
 * included), the time to first token is from sending to the first text, a stream's rate is its tokens after the first
 * over the time after its first text, and the decode rate is every stream's tokens after its first over the time from
 * the first stream's first text to the last stream's end.
 */
public final class ClientsBench {
    private static final Pattern TOKENS = Pattern.compile("\"completion_tokens\"\\s*:\\s*(\\d+)");

    record Stream(long sent, long first, long end, int tokens) {}

    public static void main(String[] args) throws Exception {
        String url = "http://127.0.0.1:9990", prompt = "The history of the old harbour town begins";
        int clients = 1, tokens = 64;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--url" -> url = args[++i];
                case "--clients" -> clients = Integer.parseInt(args[++i]);
                case "--tokens" -> tokens = Integer.parseInt(args[++i]);
                case "--prompt" -> prompt = args[++i];
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            List<CompletableFuture<Stream>> runs = new ArrayList<>();
            long start = System.nanoTime();
            for (int c = 0; c < clients; c++) {
                String body = "{\"prompt\":\"" + prompt + "\",\"max_tokens\":" + tokens + ",\"temperature\":0.8,\"seed\":" + (c + 1)
                        + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
                String target = url;
                runs.add(CompletableFuture.supplyAsync(() -> stream(http, target, body)));
            }
            List<Stream> done = new ArrayList<>();
            for (CompletableFuture<Stream> r : runs) done.add(r.get());
            long end = done.stream().mapToLong(Stream::end).max().orElseThrow();
            int all = done.stream().mapToInt(Stream::tokens).sum();
            double wall = (end - start) / 1e9;
            double ttftMean = done.stream().mapToDouble(s -> (s.first() - s.sent()) / 1e6).average().orElseThrow();
            double ttftMax = done.stream().mapToDouble(s -> (s.first() - s.sent()) / 1e6).max().orElseThrow();
            long firstText = done.stream().mapToLong(Stream::first).min().orElseThrow();
            double decode = done.stream().mapToInt(s -> s.tokens() - 1).sum() / ((end - firstText) / 1e9);
            double streamRate = done.stream().mapToDouble(s -> s.end() > s.first() ? (s.tokens() - 1) / ((s.end() - s.first()) / 1e9) : 0).average().orElseThrow();
            System.out.printf("clients=%d tokens=%d wall_s=%.2f aggregate_tok_s=%.2f decode_tok_s=%.2f ttft_ms_mean=%.0f ttft_ms_max=%.0f stream_tok_s_mean=%.2f%n",
                    clients, all, wall, all / wall, decode, ttftMean, ttftMax, streamRate);
        }
    }

    private static Stream stream(HttpClient http, String url, String body) {
        HttpRequest req = HttpRequest.newBuilder(URI.create(url + "/v1/completions")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        long sent = System.nanoTime(), first = 0;
        int tokens = -1;
        try {
            HttpResponse<java.io.InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
            if (r.statusCode() != 200) throw new IllegalStateException("HTTP " + r.statusCode() + ": " + new String(r.body().readAllBytes(), StandardCharsets.UTF_8));
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    if (!line.startsWith("data: ")) continue;
                    if (first == 0 && line.contains("\"text\":\"") && !line.contains("\"text\":\"\"")) first = System.nanoTime();
                    Matcher m = TOKENS.matcher(line);
                    if (m.find()) tokens = Integer.parseInt(m.group(1));
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        if (tokens < 0) throw new IllegalStateException("the stream ended without usage");
        return new Stream(sent, first == 0 ? System.nanoTime() : first, System.nanoTime(), tokens);
    }
}
