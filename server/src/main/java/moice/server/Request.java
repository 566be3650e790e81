package moice.server;

import moice.api.ChatMessage;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One parsed body of {@code POST /v1/chat/completions} or {@code /v1/completions}: every field checked, each error an
 * {@link ApiError} (400) naming the field. JSON {@code null} counts as absent, as OpenAI's clients send it that way.
 * Fields this server does not know are ignored (clients send many: {@code user}, {@code frequency_penalty}, ...);
 * those that would change the answer and are not implemented ({@code n} other than 1, {@code logprobs}, {@code tools})
 * are refused rather than ignored.
 *
 * @param chat        chat completion (messages) or plain completion (prompt)
 * @param messages    chat: the conversation
 * @param prompt      completion: the prompt text (null when given as token ids)
 * @param promptIds   completion: the prompt as token ids, nothing added (null when given as text)
 * @param maxTokens   {@code max_completion_tokens} or {@code max_tokens}; 0 = what is left of the context
 * @param stop        stop strings
 * @param method      {@code moice.method}, null = the server's default
 * @param routing     {@code moice.routing}: per-layer/head/expert counts in the response
 * @param routingTokens {@code moice.routing_tokens}: the routing position by position as well (implies routing)
 */
record Request(boolean chat, String model, List<ChatMessage> messages, String prompt, int[] promptIds, int maxTokens,
               float temperature, float topP, int topK, long seed, List<String> stop, boolean stream,
               boolean includeUsage, String method, boolean routing, boolean routingTokens) {
    static final int MAX_STOP_STRINGS = 16;

    static Request parse(Object json, boolean chat) {
        if (!(json instanceof Map<?, ?> raw))
            throw ApiError.invalid(null, "invalid_request", "the request body must be a JSON object, found "
                    + moice.io.Json.typeName(json));
        @SuppressWarnings("unchecked") Map<String, Object> body = (Map<String, Object>) raw;
        String model = optString(body, "model");
        List<ChatMessage> messages = null;
        String prompt = null;
        int[] promptIds = null;
        if (chat) {
            messages = messages(body.get("messages"));
        } else {
            Object p = body.get("prompt");
            if (p == null) throw missing("prompt");
            if (p instanceof String s) prompt = s;
            else if (p instanceof List<?> l && l.size() == 1 && l.get(0) instanceof String s) prompt = s;
            else if (p instanceof List<?> l && !l.isEmpty() && l.stream().allMatch(x -> x instanceof Long)) {
                promptIds = new int[l.size()];
                for (int i = 0; i < promptIds.length; i++) {
                    long id = (Long) l.get(i);
                    if (id < 0 || id > Integer.MAX_VALUE)
                        throw ApiError.invalid("prompt", "invalid_value", "prompt[" + i + "]: not a token id: " + id);
                    promptIds[i] = (int) id;
                }
            } else
                throw ApiError.invalid("prompt", "invalid_type",
                        "prompt must be a string (or an array of token ids, or an array of one string)");
        }
        long maxTokens = 0;
        for (String name : List.of("max_tokens", "max_completion_tokens")) {
            Long v = optInteger(body, name);
            if (v == null) continue;
            if (v < 1) throw ApiError.invalid(name, "invalid_value", name + " must be at least 1, got " + v);
            maxTokens = Math.min(v, Integer.MAX_VALUE);
        }
        Double temperature = optNumber(body, "temperature");
        if (temperature != null && !(temperature >= 0 && temperature <= 1e6))
            throw ApiError.invalid("temperature", "invalid_value", "temperature must be >= 0, got " + temperature);
        Double topP = optNumber(body, "top_p");
        if (topP != null && !(topP > 0 && topP <= 1))
            throw ApiError.invalid("top_p", "invalid_value", "top_p must be in (0, 1], got " + topP);
        Long topK = optInteger(body, "top_k");
        if (topK != null && (topK < 0 || topK > Integer.MAX_VALUE))
            throw ApiError.invalid("top_k", "invalid_value", "top_k must be >= 0, got " + topK);
        Long seed = optInteger(body, "seed");
        List<String> stop = stop(body.get("stop"));
        Long n = optInteger(body, "n");
        if (n != null && n != 1) throw ApiError.invalid("n", "unsupported_value", "n must be 1 (one choice per request)");
        Object logprobs = body.get("logprobs");
        if (logprobs != null && !Boolean.FALSE.equals(logprobs))
            throw ApiError.invalid("logprobs", "unsupported_value", "logprobs are not supported");
        Object tools = body.get("tools");
        if (tools instanceof List<?> l && !l.isEmpty())
            throw ApiError.invalid("tools", "unsupported_value", "tools are not supported");
        Boolean stream = optBool(body, "stream", "stream");
        boolean includeUsage = false;
        Object so = body.get("stream_options");
        if (so != null) {
            Map<String, Object> m = object(so, "stream_options");
            Boolean u = optBool(m, "include_usage", "stream_options.include_usage");
            includeUsage = u != null && u;
        }
        String method = null;
        boolean routing = false, routingTokens = false;
        Object ext = body.get("moice");
        if (ext != null) {
            Map<String, Object> m = object(ext, "moice");
            for (String key : m.keySet())
                if (!key.equals("method") && !key.equals("routing") && !key.equals("routing_tokens"))
                    throw ApiError.invalid("moice." + key, "unknown_field", "moice." + key
                            + ": unknown field; the moice extension takes 'method', 'routing' and 'routing_tokens'");
            method = optString(m, "method", "moice.method");
            Boolean r = optBool(m, "routing", "moice.routing");
            Boolean rt = optBool(m, "routing_tokens", "moice.routing_tokens");
            routingTokens = rt != null && rt;
            routing = (r != null && r) || routingTokens;
        }
        return new Request(chat, model, messages, prompt, promptIds, (int) maxTokens,
                temperature == null ? 0f : temperature.floatValue(), topP == null ? 1f : topP.floatValue(),
                topK == null ? 0 : topK.intValue(), seed == null ? 0 : seed, stop, stream != null && stream,
                includeUsage, method, routing, routingTokens);
    }

    private static List<ChatMessage> messages(Object v) {
        if (v == null) throw missing("messages");
        if (!(v instanceof List<?> list)) throw typeError("messages", "an array of messages", v);
        if (list.isEmpty()) throw ApiError.invalid("messages", "invalid_value", "messages must not be empty");
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String at = "messages[" + i + "]";
            Map<String, Object> m = object(list.get(i), at);
            Object role = m.get("role");
            if (role == null) throw missing(at + ".role");
            if (!(role instanceof String r)) throw typeError(at + ".role", "a string", role);
            out.add(new ChatMessage(r, content(m.get("content"), at + ".content")));
        }
        return out;
    }

    /** A string, null (an assistant turn with tool calls: empty), or text parts {@code [{"type":"text","text"}]}. */
    private static String content(Object v, String at) {
        if (v == null) return "";
        if (v instanceof String s) return s;
        if (!(v instanceof List<?> parts)) throw typeError(at, "a string or an array of text parts", v);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < parts.size(); i++) {
            Map<String, Object> part = object(parts.get(i), at + "[" + i + "]");
            if (!"text".equals(part.get("type")))
                throw ApiError.invalid(at + "[" + i + "].type", "unsupported_value",
                        at + "[" + i + "]: only parts of type 'text' are supported");
            Object text = part.get("text");
            if (!(text instanceof String s)) throw typeError(at + "[" + i + "].text", "a string", text);
            sb.append(s);
        }
        return sb.toString();
    }

    private static List<String> stop(Object v) {
        if (v == null) return List.of();
        List<String> out = new ArrayList<>();
        if (v instanceof String s) out.add(s);
        else if (v instanceof List<?> l) {
            for (int i = 0; i < l.size(); i++) {
                if (!(l.get(i) instanceof String s)) throw typeError("stop[" + i + "]", "a string", l.get(i));
                out.add(s);
            }
        } else throw typeError("stop", "a string or an array of strings", v);
        if (out.size() > MAX_STOP_STRINGS)
            throw ApiError.invalid("stop", "invalid_value", "stop takes at most " + MAX_STOP_STRINGS + " strings");
        if (out.stream().anyMatch(String::isEmpty))
            throw ApiError.invalid("stop", "invalid_value", "stop strings must not be empty");
        return out;
    }

    private static ApiError missing(String field) {
        return ApiError.invalid(field, "missing_field", "'" + field + "' is required");
    }

    private static ApiError typeError(String field, String expected, Object found) {
        return ApiError.invalid(field, "invalid_type",
                field + ": expected " + expected + ", found " + moice.io.Json.typeName(found));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Object v, String field) {
        if (v instanceof Map<?, ?> m) return (Map<String, Object>) m;
        throw typeError(field, "an object", v);
    }

    private static String optString(Map<String, Object> m, String key) {
        return optString(m, key, key);
    }

    private static String optString(Map<String, Object> m, String key, String field) {
        Object v = m.get(key);
        if (v == null) return null;
        if (v instanceof String s) return s;
        throw typeError(field, "a string", v);
    }

    private static Long optInteger(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (v == null) return null;
        if (v instanceof Long l) return l;
        if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 9.007199254740992E15) return d.longValue();
        throw typeError(key, "an integer", v);
    }

    private static Double optNumber(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (v == null) return null;
        if (v instanceof Number n) return n.doubleValue();
        throw typeError(key, "a number", v);
    }

    private static Boolean optBool(Map<String, Object> m, String key, String field) {
        Object v = m.get(key);
        if (v == null) return null;
        if (v instanceof Boolean b) return b;
        throw typeError(field, "true or false", v);
    }
}
