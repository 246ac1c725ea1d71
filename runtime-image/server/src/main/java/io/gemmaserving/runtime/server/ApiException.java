package io.gemmaserving.runtime.server;

/** A request the API refuses: HTTP status and the OpenAI error body's fields. */
final class ApiException extends Exception {

    final int status;
    final String type;
    final String param;
    final String code;

    ApiException(int status, String message, String type, String param, String code) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    static ApiException invalid(String param, String message) {
        return new ApiException(400, message, "invalid_request_error", param, "invalid_value");
    }

    static ApiException invalid(String param, String code, String message) {
        return new ApiException(400, message, "invalid_request_error", param, code);
    }
}
