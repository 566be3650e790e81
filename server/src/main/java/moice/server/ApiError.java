package moice.server;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A request the server refuses, as an OpenAI error object: {@code {"error": {"message", "type", "param", "code"}}}
 * with an HTTP status.
 */
final class ApiError extends RuntimeException {
    final int status;
    final String type, param, code;

    ApiError(int status, String type, String code, String param, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400 invalid_request_error. */
    static ApiError invalid(String param, String code, String message) {
        return new ApiError(400, "invalid_request_error", code, param, message);
    }

    Map<String, Object> body() {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("message", getMessage());
        e.put("type", type);
        e.put("param", param);
        e.put("code", code);
        return Map.of("error", e);
    }
}
