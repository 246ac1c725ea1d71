package io.gemmaserving.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;

/** Serving limits; they size the KV cache and so the memory and the tensor-parallel degree. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class Serving {

    @Min(128)
    @Max(1048576)
    @JsonPropertyDescription("Longest sequence (prompt + generation) in tokens (default 4096).")
    public Integer maxContextLength;

    @Min(1)
    @Max(1024)
    @JsonPropertyDescription("Sequences decoded together by continuous batching (default 8).")
    public Integer maxConcurrentSequences;

    @JsonPropertyDescription("Precision of the stored weights (bf16, f16, q8_0, q6_k, q5_k_m, q4_k_m, q4_0, q3_k_m, q2_k,"
            + " iq4_nl, iq3_s), for sizing. Absent: read from the GGUF file name (e.g. ...-Q4_K_M.gguf), else bf16.")
    public Quantization quantization;

    @JsonPropertyDescription("Secret key holding the API key clients must send as a Bearer token; absent: open.")
    public ApiKeySecretRef apiKeySecretRef;

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class ApiKeySecretRef {
        @Required
        @Pattern(Grammar.DNS1123_SUBDOMAIN)
        @Size(max = 253)
        @JsonPropertyDescription("Name of the Secret in the model's namespace.")
        public String name;

        @Pattern(Grammar.SECRET_KEY)
        @Size(max = 253)
        @JsonPropertyDescription("Key in the Secret (default api-key).")
        public String key;
    }
}
