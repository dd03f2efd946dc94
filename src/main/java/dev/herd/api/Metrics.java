package dev.herd.api;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** Counters and last-request gauges, rendered in the Prometheus text format. */
final class Metrics {
    private static final Set<String> ENDPOINTS = Set.of("/", "/health", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/completions",
            "/v1/embeddings");

    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    private final LongAdder generated = new LongAdder(), prompt = new LongAdder(), reused = new LongAdder(), cancelled = new LongAdder();
    private volatile double promptPerSecond, decodePerSecond, firstTokenMs, syncMsPerToken = Double.NaN;

    void request(String path, int status) {
        String endpoint = ENDPOINTS.contains(path) ? path : "other"; // bounded label values
        requests.computeIfAbsent("endpoint=\"" + endpoint + "\",status=\"" + status + "\"", k -> new LongAdder()).increment();
    }

    /** @param syncMs sync time per decoded token, NaN on one node */
    void generation(Outcome o, double syncMs) {
        generated.add(o.tokens());
        prompt.add(o.promptTokens());
        reused.add(o.cached());
        if (o.promptPerSecond() > 0) promptPerSecond = o.promptPerSecond();
        if (o.decodePerSecond() > 0) decodePerSecond = o.decodePerSecond();
        firstTokenMs = o.firstTokenNanos() / 1e6;
        if (!Double.isNaN(syncMs)) syncMsPerToken = syncMs;
    }

    void cancelled() {
        cancelled.increment();
    }

    /** @param busy slots running a request */
    String render(int queued, int busy) {
        StringBuilder out = new StringBuilder();
        out.append("# HELP herd_requests_total HTTP requests by endpoint and status.\n# TYPE herd_requests_total counter\n");
        new TreeMap<>(requests).forEach((labels, n) -> out.append("herd_requests_total{").append(labels).append("} ").append(n.sum()).append('\n'));
        metric(out, "herd_generated_tokens_total", "counter", "Completion tokens generated.", generated.sum());
        metric(out, "herd_prompt_tokens_total", "counter", "Prompt tokens of completed requests.", prompt.sum());
        metric(out, "herd_reused_prompt_tokens_total", "counter", "Prompt tokens reused from the KV cache (prefix reuse).", reused.sum());
        metric(out, "herd_cancelled_total", "counter", "Requests stopped because the client went away (generating or waiting in the queue).", cancelled.sum());
        metric(out, "herd_prompt_tokens_per_second", "gauge", "Prompt evaluation speed of the last request.", promptPerSecond);
        metric(out, "herd_decode_tokens_per_second", "gauge", "Decode speed of the last request.", decodePerSecond);
        metric(out, "herd_time_to_first_token_ms", "gauge", "Time to first token of the last request, from taking the model (not queued time).", firstTokenMs);
        metric(out, "herd_queue_depth", "gauge", "Requests waiting for the model.", queued);
        metric(out, "herd_busy", "gauge", "1 while a generation runs.", busy > 0 ? 1 : 0);
        metric(out, "herd_busy_slots", "gauge", "Slots running a request (herd api --parallel).", busy);
        if (!Double.isNaN(syncMsPerToken)) {
            metric(out, "herd_sync_ms_per_token", "gauge", "Time in cluster syncs per decoded token, last request.", syncMsPerToken);
        }
        return out.toString();
    }

    private static void metric(StringBuilder out, String name, String type, String help, double value) {
        out.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(' ').append(type).append('\n')
                .append(name).append(' ').append(value == Math.rint(value) ? String.valueOf((long) value) : String.valueOf(value)).append('\n');
    }
}
